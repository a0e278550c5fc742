using System;
using System.Globalization;
using Microsoft.Extensions.Options;
using ScaleOps.Internal;
using StackExchange.Redis;

namespace ScaleOps.Caching.Internal.Validators;

/// <summary>Validates <see cref="CachingOptions"/> at start-up; every message names the setting.</summary>
internal sealed class CachingOptionsValidator : IValidateOptions<CachingOptions>
{
    private const string P = CachingDefaults.Prefix;

    public ValidateOptionsResult Validate(string? name, CachingOptions options)
    {
        var errors = new ValidateOptionsResultBuilder();
        if (string.IsNullOrWhiteSpace(options.RedisConnectionString))
        {
            errors.AddError($"{P}{nameof(CachingOptions.RedisConnectionString)} is required: set it or ConnectionStrings:{options.ConnectionStringName}.");
        }
        else
        {
            try
            {
                var parsed = ConfigurationOptions.Parse(options.RedisConnectionString);
                if (parsed.EndPoints.Count == 0)
                {
                    errors.AddError($"{P}{nameof(CachingOptions.RedisConnectionString)} names no endpoint.");
                }
            }
            catch (ArgumentException ex)
            {
                errors.AddError($"{P}{nameof(CachingOptions.RedisConnectionString)} is malformed: {ex.Message}");
            }
        }

        var prefix = options.KeyPrefix;
        var surrogate = prefix is null ? null : UnpairedSurrogates.Describe(prefix);
        if (string.IsNullOrEmpty(prefix) || prefix.Length > CachingDefaults.MaxKeyPrefixLength
            || prefix.AsSpan().IndexOfAny("{} \t\r\n") >= 0 || surrogate is not null)
        {
            // An unpaired surrogate has no UTF-8 form (Redis keys are bytes): the prefix could be another application's.
            errors.AddError($"{P}{nameof(CachingOptions.KeyPrefix)} must be 1 to {CachingDefaults.MaxKeyPrefixLength} characters without '{{', '}}' or white space; it is '{prefix}'"
                + (surrogate is null ? "." : $" ({surrogate})."));
        }

        Range(errors, nameof(CachingOptions.DefaultExpiration), options.DefaultExpiration, CachingDefaults.DefaultExpiration);
        Range(errors, nameof(CachingOptions.NegativeExpiration), options.NegativeExpiration, CachingDefaults.NegativeExpiration);
        Range(errors, nameof(CachingOptions.FailSafeMaxDuration), options.FailSafeMaxDuration, CachingDefaults.FailSafeMaxDuration);
        Range(errors, nameof(CachingOptions.FailSafeThrottle), options.FailSafeThrottle, CachingDefaults.FailSafeThrottle);
        if (options.FactoryTimeout is { } timeout)
        {
            Range(errors, nameof(CachingOptions.FactoryTimeout), timeout, CachingDefaults.FactoryTimeout);
        }

        Range(errors, nameof(CachingOptions.RedisTimeout), options.RedisTimeout, CachingDefaults.RedisTimeout);
        Range(errors, nameof(CachingOptions.BreakerDuration), options.BreakerDuration, CachingDefaults.BreakerDuration);
        Range(errors, nameof(CachingOptions.DistributedLockLease), options.DistributedLockLease, CachingDefaults.DistributedLockLease);
        Range(errors, nameof(CachingOptions.DistributedLockWait), options.DistributedLockWait, CachingDefaults.DistributedLockWait);
        Range(errors, nameof(CachingOptions.SweepInterval), options.SweepInterval, CachingDefaults.SweepInterval);
        Range(errors, nameof(CachingOptions.MaxKeyLength), options.MaxKeyLength, CachingDefaults.MaxKeyLength);
        Range(errors, nameof(CachingOptions.MaxPayloadBytes), options.MaxPayloadBytes, CachingDefaults.MaxPayloadBytes);
        Range(errors, nameof(CachingOptions.MaxMemoryEntries), options.MaxMemoryEntries, CachingDefaults.MaxMemoryEntries);
        if (options.MaxMemoryEntriesPerTenant is { } perTenant && (perTenant < 1 || perTenant > options.MaxMemoryEntries))
        {
            errors.AddError(string.Create(CultureInfo.InvariantCulture,
                $"{P}{nameof(CachingOptions.MaxMemoryEntriesPerTenant)} must be between 1 and {P}{nameof(CachingOptions.MaxMemoryEntries)} ({options.MaxMemoryEntries}), or unset (no per-tenant bound); it is {perTenant}."));
        }

        if (!(options.JitterFraction >= CachingDefaults.JitterFraction.Min && options.JitterFraction <= CachingDefaults.JitterFraction.Max))
        {
            errors.AddError(string.Create(CultureInfo.InvariantCulture,
                $"{P}{nameof(CachingOptions.JitterFraction)} must be between {CachingDefaults.JitterFraction.Min} and {CachingDefaults.JitterFraction.Max}; it is {options.JitterFraction}."));
        }

        if (options.EagerRefreshThreshold is { } eager && !(eager > 0 && eager < 1))
        {
            errors.AddError(string.Create(CultureInfo.InvariantCulture,
                $"{P}{nameof(CachingOptions.EagerRefreshThreshold)} must be greater than 0 and less than 1 (unset: off); it is {eager}."));
        }

        return errors.Build();
    }

    private static void Range<T>(ValidateOptionsResultBuilder errors, string field, T value, (T Min, T Max) range)
        where T : IComparable<T>
    {
        if (value.CompareTo(range.Min) < 0 || value.CompareTo(range.Max) > 0)
        {
            errors.AddError(string.Create(CultureInfo.InvariantCulture, $"{P}{field} must be between {range.Min} and {range.Max}; it is {value}."));
        }
    }
}
