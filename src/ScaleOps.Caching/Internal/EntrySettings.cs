using System;
using System.Linq;

namespace ScaleOps.Caching.Internal;

/// <summary>The effective settings of one entry: the call's <see cref="CacheEntryOptions"/> over the defaults.</summary>
internal readonly record struct EntrySettings(
    TimeSpan Expiration,
    TimeSpan NegativeExpiration,
    TimeSpan? LocalExpiration,
    string[]? Tags,
    TimeSpan FailSafeMaxDuration,
    TimeSpan? FactoryTimeout,
    bool DistributedLock,
    bool LocalOnly)
{
    public bool FailSafe => FailSafeMaxDuration > TimeSpan.Zero;

    public static EntrySettings Resolve(CacheEntryOptions? entry, CachingOptions defaults, Action<string, string> validateTag)
    {
        if (entry is null)
        {
            return new EntrySettings(defaults.DefaultExpiration, defaults.NegativeExpiration, null, null, defaults.FailSafeMaxDuration,
                defaults.FactoryTimeout, defaults.DistributedStampedeProtection, false);
        }

        string[]? tags = null;
        if (entry.Tags is { Count: > 0 } given)
        {
            foreach (var tag in given)
            {
                validateTag(tag, nameof(CacheEntryOptions.Tags));
            }

            tags = [.. given.Distinct(StringComparer.Ordinal)];
        }

        var expiration = entry.Expiration ?? defaults.DefaultExpiration;
        if (expiration <= TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(nameof(entry), expiration, "CacheEntryOptions.Expiration must be positive.");
        }

        return new EntrySettings(
            expiration,
            entry.NegativeExpiration ?? defaults.NegativeExpiration,
            entry.LocalExpiration,
            tags,
            entry.FailSafe == false ? TimeSpan.Zero : defaults.FailSafeMaxDuration,
            entry.FactoryTimeout ?? defaults.FactoryTimeout,
            entry.DistributedStampedeProtection ?? defaults.DistributedStampedeProtection,
            entry.LocalOnly);
    }
}
