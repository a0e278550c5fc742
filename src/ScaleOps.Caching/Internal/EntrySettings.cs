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
    /// <summary>The longest expiration (or negative expiration) one entry may ask for.</summary>
    public static readonly TimeSpan MaxExpiration = TimeSpan.FromDays(365);

    public const string EagerRefreshThresholdRange =
        "CacheEntryOptions.EagerRefreshThreshold must be greater than 0 and less than 1, or 0 (eager refresh off for the call).";

    public bool FailSafe => FailSafeMaxDuration > TimeSpan.Zero;

    // Out-of-range values throw naming "options", the parameter of the public call that passed them.
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
        if (expiration <= TimeSpan.Zero || expiration > MaxExpiration)
        {
            throw new ArgumentOutOfRangeException(
                "options", expiration, $"CacheEntryOptions.Expiration must be positive and at most {MaxExpiration.TotalDays} days.");
        }

        if (entry.NegativeExpiration is { } negative && (negative < TimeSpan.Zero || negative > MaxExpiration))
        {
            throw new ArgumentOutOfRangeException(
                "options", negative, $"CacheEntryOptions.NegativeExpiration must be between zero (nulls not cached) and {MaxExpiration.TotalDays} days.");
        }

        if (entry.LocalExpiration is { } local && local < TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException("options", local, "CacheEntryOptions.LocalExpiration cannot be negative (zero: Redis only).");
        }

        if (entry.FactoryTimeout is { } timeout && (timeout < CachingDefaults.FactoryTimeout.Min || timeout > CachingDefaults.FactoryTimeout.Max))
        {
            throw new ArgumentOutOfRangeException(
                "options", timeout,
                $"CacheEntryOptions.FactoryTimeout must be between {CachingDefaults.FactoryTimeout.Min.TotalMilliseconds} ms and {CachingDefaults.FactoryTimeout.Max.TotalHours} h.");
        }

        if (entry.EagerRefreshThreshold is { } eager && eager != 0 && !(eager > 0 && eager < 1))
        {
            throw new ArgumentOutOfRangeException("options", eager, EagerRefreshThresholdRange);
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
