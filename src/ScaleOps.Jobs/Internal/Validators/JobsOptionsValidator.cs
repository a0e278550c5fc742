using System;
using System.Collections.Generic;
using System.Linq;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Options;

namespace ScaleOps.Jobs.Internal.Validators;

/// <summary>
/// Validates <see cref="JobsOptions"/>; every message names the setting and its value. <paramref name="configuration"/>
/// (the host's, when it has one) shows how each configuration source spells the queues.
/// </summary>
internal sealed class JobsOptionsValidator(IConfiguration? configuration = null) : IValidateOptions<JobsOptions>
{
    private const string P = JobsDefaults.Prefix;

    public ValidateOptionsResult Validate(string? name, JobsOptions o)
    {
        var errors = new ValidateOptionsResultBuilder();
        if (string.IsNullOrWhiteSpace(o.DefaultQueue) || o.DefaultQueue.Length > JobsDefaults.MaxNameLength)
        {
            errors.AddError($"{P}DefaultQueue must be 1 to {JobsDefaults.MaxNameLength} characters, not blank; it is '{o.DefaultQueue}'.");
        }
        else if (!JobText.IsStorable(o.DefaultQueue))
        {
            errors.AddError(JobValues.NotStorable($"{P}DefaultQueue"));
        }

        foreach (var (queue, q) in o.Queues)
        {
            if (string.IsNullOrWhiteSpace(queue) || queue.Length > JobsDefaults.MaxNameLength)
            {
                errors.AddError($"{P}Queues: the queue name '{queue}' must be 1 to {JobsDefaults.MaxNameLength} characters, not blank.");
            }
            else if (!JobText.IsStorable(queue))
            {
                errors.AddError(JobValues.NotStorable($"{P}Queues: the queue name '{queue}'"));
            }

            if (q is null)
            {
                errors.AddError($"{P}Queues:{queue} is null.");
                continue;
            }

            if (q.Concurrency is < 1 or > JobsDefaults.MaxConcurrency)
            {
                errors.AddError($"{P}Queues:{queue}:Concurrency must be 1 to {JobsDefaults.MaxConcurrency}; it is {q.Concurrency}.");
            }

            if (q.LocalBuffer is < 0 or > 100_000)
            {
                errors.AddError($"{P}Queues:{queue}:LocalBuffer must be 0 to 100000; it is {q.LocalBuffer}.");
            }

            if (q.MaxRunningPerTenant is < 0 or > JobsDefaults.MaxConcurrency)
            {
                errors.AddError($"{P}Queues:{queue}:MaxRunningPerTenant must be 0 (no cap) to {JobsDefaults.MaxConcurrency}; it is {q.MaxRunningPerTenant}.");
            }
        }

        CaseVariants(errors, o);

        if (o.MaxAttempts is < 1 or > JobsDefaults.MaxMaxAttempts)
        {
            errors.AddError($"{P}MaxAttempts must be 1 to {JobsDefaults.MaxMaxAttempts}; it is {o.MaxAttempts}.");
        }

        Range(errors, "DefaultTimeout", o.DefaultTimeout, TimeSpan.FromMilliseconds(1), TimeSpan.FromHours(24));
        Range(errors, "TimeoutGrace", o.TimeoutGrace, TimeSpan.Zero, TimeSpan.FromHours(1));
        Range(errors, "PollInterval", o.PollInterval, TimeSpan.FromMilliseconds(10), TimeSpan.FromHours(1));
        Range(errors, "LeaseDuration", o.LeaseDuration, TimeSpan.FromSeconds(1), TimeSpan.FromHours(1));
        Range(errors, "RescueInterval", o.RescueInterval, TimeSpan.FromMilliseconds(100), TimeSpan.FromHours(1));
        Range(errors, "ShutdownTimeout", o.ShutdownTimeout, TimeSpan.Zero, TimeSpan.FromHours(1));
        Range(errors, "RetryBaseDelay", o.RetryBaseDelay, TimeSpan.Zero, TimeSpan.FromDays(1));
        Range(errors, "RetryMaxDelay", o.RetryMaxDelay, o.RetryBaseDelay, TimeSpan.FromDays(30));
        Range(errors, "SucceededRetention", o.SucceededRetention, TimeSpan.Zero, TimeSpan.FromDays(365));
        Range(errors, "DeadRetention", o.DeadRetention, TimeSpan.FromMinutes(1), TimeSpan.FromDays(3650));
        Range(errors, "RetentionInterval", o.RetentionInterval, TimeSpan.FromSeconds(1), TimeSpan.FromDays(1));
        if (o.RecurringTakeoverAfter < JobsDefaults.MinRecurringTakeoverAfter || o.RecurringTakeoverAfter > JobsDefaults.MaxRecurringTakeoverAfter)
        {
            errors.AddError(
                $"{P}RecurringTakeoverAfter must be between {JobsDefaults.MinRecurringTakeoverAfter} and {JobsDefaults.MaxRecurringTakeoverAfter}; "
                + $"it is {o.RecurringTakeoverAfter}. It is how long a recurring schedule's stored definition may go unseen before a host with "
                + "another definition takes the schedule over; hosts with the stored definition record that they are alive every fifth of it.");
        }

        if (o.SerializerOptions is null)
        {
            errors.AddError($"{P}SerializerOptions is null; leave the default or set JsonSerializerOptions.");
        }

        return errors.Build();
    }

    /// <summary>
    /// Queue names that differ only by case, in the code's options or in any configuration source: configuration keys
    /// ignore case, so <c>Queues:EMAIL</c> and <c>Queues:email</c> were one section, its settings merged silently under
    /// whichever spelling came first, while each spelling is a queue of its own (the host could work one no job goes to).
    /// </summary>
    private void CaseVariants(ValidateOptionsResultBuilder errors, JobsOptions o)
    {
        var spellings = new SortedSet<string>(o.Queues.Keys, StringComparer.Ordinal);
        if (configuration is IConfigurationRoot root)
        {
            foreach (var provider in root.Providers)
            {
                spellings.UnionWith(provider.GetChildKeys([], P + "Queues"));
            }
        }

        foreach (var names in spellings.GroupBy(n => n, StringComparer.OrdinalIgnoreCase).Where(g => g.Count() > 1))
        {
            errors.AddError(
                $"{P}Queues: {string.Join(" and ", names.Select(n => $"'{n}'"))} differ only by case: configuration keys ignore case "
                + "(one section, its settings merged under one of the spellings) while queue names do not (each spelling is a queue "
                + "of its own); spell the queue one way in the code and in every configuration source.");
        }
    }

    private static void Range(ValidateOptionsResultBuilder errors, string field, TimeSpan value, TimeSpan min, TimeSpan max)
    {
        if (value < min || value > max)
        {
            errors.AddError($"{P}{field} must be between {min} and {max}; it is {value}.");
        }
    }
}
