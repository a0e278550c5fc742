using System;
using System.Collections.Generic;
using System.Linq;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using ScaleOps.Internal;
using ScaleOps.Resilience.Quotas;
using ScaleOps.Resilience.RateLimiting;
using StackExchange.Redis;

namespace ScaleOps.Resilience.Internal.Validators;

/// <summary>Validates <see cref="ResilienceOptions"/> at start-up, all errors at once; every message names its setting.</summary>
internal sealed class ResilienceOptionsValidator(IServiceProvider services) : IValidateOptions<ResilienceOptions>
{
    private const string Prefix = "ScaleOps:Resilience:";

    public ValidateOptionsResult Validate(string? name, ResilienceOptions options)
    {
        var errors = new ValidateOptionsResultBuilder();
        ValidateRateLimiting(options, errors);
        ValidateQuotas(options, errors);
        ValidateBreakers(options, errors);
        return errors.Build();
    }

    private void ValidateRateLimiting(ResilienceOptions options, ValidateOptionsResultBuilder errors)
    {
        var rl = options.RateLimiting;
        const string P = Prefix + "RateLimiting:";
        foreach (var (plan, rules) in rl.Plans)
        {
            // The plan names the tenant's Redis key (UTF-8): an unpaired surrogate, written as U+FFFD, shared it with other plans.
            if (UnpairedSurrogates.Describe(plan) is { } surrogate)
            {
                errors.AddError($"{P}Plans:{plan} has {surrogate}; plan names make Redis keys (UTF-8), where it would be another plan's.");
            }

            if (rules.Count == 0)
            {
                errors.AddError($"{P}Plans:{plan} has no limit; give it at least one (PermitLimit and Window).");
            }

            for (var i = 0; i < rules.Count; i++)
            {
                var rule = rules[i];
                var at = $"{P}Plans:{plan}:{i}:";
                if (rule.PermitLimit < 1)
                {
                    errors.AddError($"{at}PermitLimit must be at least 1 (it is {rule.PermitLimit}).");
                }

                if (rule.Window < TimeSpan.FromMilliseconds(1) || rule.Window > TimeSpan.FromDays(366))
                {
                    errors.AddError($"{at}Window must be from 00:00:00.001 to 366.00:00:00 (it is {rule.Window}).");
                }

                if (rule.Burst is < 1)
                {
                    errors.AddError($"{at}Burst must be at least 1 when set (it is {rule.Burst}).");
                }
            }
        }

        DistinctIgnoringCase(rl.Plans.Keys, $"{P}Plans", errors);

        // Each feature that has plans must know the default one: a plan known only to the other feature passes nothing
        // (every tenant without a plan of its own would then fail that feature's calls with UnknownPlanException).
        ValidateDefaultPlan(options.DefaultPlan, rl.Plans.Keys, $"{P}Plans", errors);
        ValidateDefaultPlan(options.DefaultPlan, options.Quotas.Plans.Keys, $"{Prefix}Quotas:Plans", errors);

        if (rl.LeaseSize is < 1 or > 10_000)
        {
            errors.AddError($"{P}LeaseSize must be from 1 to 10000 (it is {rl.LeaseSize}).");
        }

        if (rl.LeaseDuration < TimeSpan.FromMilliseconds(1) || rl.LeaseDuration > TimeSpan.FromMinutes(1))
        {
            errors.AddError($"{P}LeaseDuration must be from 00:00:00.001 to 00:01:00 (it is {rl.LeaseDuration}).");
        }

        if (rl.PlanCacheDuration < TimeSpan.Zero || rl.PlanCacheDuration > TimeSpan.FromDays(1))
        {
            errors.AddError($"{P}PlanCacheDuration must be from 00:00:00 to 1.00:00:00 (it is {rl.PlanCacheDuration}).");
        }

        if (string.IsNullOrEmpty(rl.RedisKeyPrefix))
        {
            errors.AddError($"{P}RedisKeyPrefix must not be empty.");
        }
        else if (UnpairedSurrogates.Describe(rl.RedisKeyPrefix) is { } surrogate)
        {
            errors.AddError($"{P}RedisKeyPrefix has {surrogate}; Redis keys are UTF-8, where it would be another prefix.");
        }
        else if (rl.RedisKeyPrefix.AsSpan().IndexOfAny('{', '}') >= 0)
        {
            // A brace would make (part of) the prefix the hash tag: every tenant's bucket in one Redis Cluster slot.
            errors.AddError($"{P}RedisKeyPrefix must not contain '{{' or '}}' (it is '{rl.RedisKeyPrefix}'): the tenant is the key's "
                + "Redis Cluster hash tag, and a brace in the prefix would put every tenant on one slot.");
        }

        if (!Enum.IsDefined(rl.Store))
        {
            errors.AddError($"{P}Store must be Local or Redis (it is {rl.Store}).");
        }

        if (!Enum.IsDefined(rl.RedisFailureMode))
        {
            errors.AddError($"{P}RedisFailureMode must be FailOpen, FailClosed or Local (it is {rl.RedisFailureMode}).");
        }

        var hostRedis = services.GetService<IServiceProviderIsService>()?.IsService(typeof(IConnectionMultiplexer)) == true;
        if (rl.Store == RateLimiterStore.Redis && !hostRedis)
        {
            if (string.IsNullOrWhiteSpace(options.RedisConnectionString))
            {
                errors.AddError($"{Prefix}RedisConnectionString is required when {P}Store is Redis: set it, or ConnectionStrings:Redis, "
                    + "or register an IConnectionMultiplexer.");
            }
            else
            {
                try
                {
                    _ = ConfigurationOptions.Parse(options.RedisConnectionString);
                }
                catch (ArgumentException ex)
                {
                    errors.AddError($"{Prefix}RedisConnectionString is malformed: {ex.Message}");
                }
            }
        }
    }

    /// <summary>
    /// Refuses names that differ only by case: configuration keys are case-insensitive, so such names cannot both come
    /// from configuration (the binder merges them), and a setting meant for one would silently be the other's.
    /// </summary>
    private static void DistinctIgnoringCase(IEnumerable<string> names, string setting, ValidateOptionsResultBuilder errors)
    {
        foreach (var group in names.GroupBy(n => n, StringComparer.OrdinalIgnoreCase).Where(g => g.Count() > 1))
        {
            errors.AddError($"{setting} has names that differ only by case ({string.Join(", ", group.Order(StringComparer.Ordinal))}); "
                + "configuration keys are case-insensitive, so rename all but one.");
        }
    }

    private static void ValidateDefaultPlan(string defaultPlan, IEnumerable<string> plans, string setting, ValidateOptionsResultBuilder errors)
    {
        var names = plans.Order(StringComparer.Ordinal).ToList();
        if (names.Count > 0 && !names.Contains(defaultPlan, StringComparer.Ordinal))
        {
            errors.AddError($"{Prefix}DefaultPlan '{defaultPlan}' is not a plan of {setting} (configured: {string.Join(", ", names)}); "
                + "tenants without a plan of their own would fail with UnknownPlanException.");
        }
    }

    private static void ValidateQuotas(ResilienceOptions options, ValidateOptionsResultBuilder errors)
    {
        const string P = Prefix + "Quotas:";
        DistinctIgnoringCase(options.Quotas.Resources.Keys, $"{P}Resources", errors);
        DistinctIgnoringCase(options.Quotas.Plans.Keys, $"{P}Plans", errors);
        foreach (var (resource, period) in options.Quotas.Resources)
        {
            if (resource.Length is 0 or > 100)
            {
                errors.AddError($"{P}Resources:{resource} must be 1 to 100 characters long.");
            }

            if (!Enum.IsDefined(period))
            {
                errors.AddError($"{P}Resources:{resource} must be None, Day or Month (it is {period}).");
            }
        }

        foreach (var (plan, limits) in options.Quotas.Plans)
        {
            DistinctIgnoringCase(limits.Keys, $"{P}Plans:{plan}", errors);
            foreach (var (resource, limit) in limits)
            {
                if (!options.Quotas.Resources.ContainsKey(resource))
                {
                    errors.AddError($"{P}Plans:{plan}:{resource} names a resource that {P}Resources does not declare.");
                }

                if (limit < 1)
                {
                    errors.AddError($"{P}Plans:{plan}:{resource} must be at least 1 (it is {limit}); leave it out for no limit.");
                }
            }
        }

        _ = typeof(QuotaPeriod);
    }

    private static void ValidateRetry(string at, CircuitBreakers.RetrySettings retry, ValidateOptionsResultBuilder errors)
    {
        if (retry.MaxRetryAttempts is < 1 or > 100)
        {
            errors.AddError($"{at}MaxRetryAttempts must be from 1 to 100 (it is {retry.MaxRetryAttempts}); leave Retry out for no retry.");
        }

        if (retry.BaseDelay < TimeSpan.FromMilliseconds(1) || retry.BaseDelay > TimeSpan.FromMinutes(1))
        {
            errors.AddError($"{at}BaseDelay must be from 00:00:00.001 to 00:01:00 (it is {retry.BaseDelay}).");
        }

        if (retry.MaxDelay < retry.BaseDelay || retry.MaxDelay > TimeSpan.FromMinutes(10))
        {
            errors.AddError($"{at}MaxDelay must be from BaseDelay ({retry.BaseDelay}) to 00:10:00 (it is {retry.MaxDelay}).");
        }
    }

    private static void ValidateBreakers(ResilienceOptions options, ValidateOptionsResultBuilder errors)
    {
        foreach (var (name, b) in options.CircuitBreakers)
        {
            var at = $"{Prefix}CircuitBreakers:{name}:";
            if (b is null)
            {
                errors.AddError($"{at} is empty.");
                continue;
            }

            if (!(b.FailureRatio > 0 && b.FailureRatio <= 1))
            {
                errors.AddError($"{at}FailureRatio must be greater than 0 and at most 1 (it is {b.FailureRatio}).");
            }

            if (b.MinimumThroughput < 2)
            {
                errors.AddError($"{at}MinimumThroughput must be at least 2 (it is {b.MinimumThroughput}).");
            }

            if (b.SamplingDuration < TimeSpan.FromMilliseconds(500) || b.SamplingDuration > TimeSpan.FromDays(1))
            {
                errors.AddError($"{at}SamplingDuration must be from 00:00:00.5 to 1.00:00:00 (it is {b.SamplingDuration}).");
            }

            if (b.BreakDuration < TimeSpan.FromMilliseconds(500) || b.BreakDuration > TimeSpan.FromDays(1))
            {
                errors.AddError($"{at}BreakDuration must be from 00:00:00.5 to 1.00:00:00 (it is {b.BreakDuration}).");
            }

            if (b.Retry is { } retry)
            {
                ValidateRetry($"{at}Retry:", retry, errors);
            }
        }

        if (!options.CircuitBreakers.ContainsKey(CircuitBreakers.CircuitBreakerNames.Redis) && options.RateLimiting.Store == RateLimiterStore.Redis)
        {
            errors.AddError($"{Prefix}CircuitBreakers must keep the 'redis' breaker when RateLimiting:Store is Redis.");
        }
    }
}
