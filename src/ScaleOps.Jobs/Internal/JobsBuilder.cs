using System;
using System.Linq;
using System.Text.Json;
using Cronos;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace ScaleOps.Jobs.Internal;

/// <summary>The <see cref="IJobsBuilder"/>.</summary>
internal sealed class JobsBuilder(IServiceCollection services) : IJobsBuilder
{
    private static readonly char[] CronFieldSeparators = [' ', '\t'];

    public IServiceCollection Services { get; } = services;

    public IJobsBuilder AddHandler<TPayload, THandler>()
        where THandler : class, IJobHandler<TPayload>
    {
        var kind = JobKind<TPayload>.Name;
        var existing = Services.Select(d => d.ImplementationInstance).OfType<JobHandlerRegistration>().FirstOrDefault(r => r.Kind == kind);
        if (existing is not null && existing.PayloadType != typeof(TPayload))
        {
            throw new InvalidOperationException(
                $"The job kind '{kind}' of {typeof(TPayload)} is already used by {existing.PayloadType}; give one of them another [JobKind].");
        }

        if (existing is null)
        {
            Services.AddSingleton<JobHandlerRegistration>(new JobHandlerRegistration<TPayload>());
        }

        // A second handler type for one payload type was ignored without a word (the first one kept running its jobs).
        var registered = Services.FirstOrDefault(d => d.ServiceType == typeof(IJobHandler<TPayload>) && !d.IsKeyedService);
        if (registered?.ImplementationType is { } other && other != typeof(THandler))
        {
            throw new InvalidOperationException(
                $"Jobs of {typeof(TPayload)} already have the handler {other}; {typeof(THandler)} would never run. One payload type has "
                + "one handler: give the other job its own payload type.");
        }

        Services.TryAddScoped<IJobHandler<TPayload>, THandler>();
        return this;
    }

    public IJobsBuilder AddRecurring<TPayload>(string name, string cron, TPayload payload, JobOptions? options = null, TimeZoneInfo? timeZone = null)
    {
        if (string.IsNullOrWhiteSpace(name) || name.Length > JobsDefaults.MaxKindLength)
        {
            throw new ArgumentException($"A recurring schedule's name must be 1 to {JobsDefaults.MaxKindLength} characters, not blank.", nameof(name));
        }

        if (!JobText.IsStorable(name))
        {
            throw new ArgumentException(JobValues.NotStorable("A recurring schedule's name"), nameof(name));
        }

        ArgumentNullException.ThrowIfNull(cron);
        ArgumentNullException.ThrowIfNull(payload);
        CronExpression expression;
        try
        {
            var fields = cron.Split(CronFieldSeparators, StringSplitOptions.RemoveEmptyEntries).Length; // Cronos takes tabs too
            expression = CronExpression.Parse(cron, fields == 6 ? CronFormat.IncludeSeconds : CronFormat.Standard);
        }
        catch (CronFormatException ex)
        {
            throw new ArgumentException($"The cron expression '{cron}' of recurring schedule '{name}' is invalid: {ex.Message}", nameof(cron), ex);
        }

        // Cronos parses a day no month it names has (30 February, 31 April): such a schedule never fired, without a word.
        // Cron has no year, so an expression that occurs at all occurs after 1970 (29 February: 1972).
        if (expression.GetNextOccurrence(DateTimeOffset.UnixEpoch, timeZone ?? TimeZoneInfo.Utc) is null)
        {
            throw new ArgumentException(
                $"The cron expression '{cron}' of recurring schedule '{name}' never occurs: no date matches all its fields (a day of "
                + "the month that no month it names has, such as 30 February or 31 April).", nameof(cron));
        }

        if (Services.Select(d => d.ImplementationInstance).OfType<RecurringJob>().Any(r => r.Name == name))
        {
            throw new ArgumentException($"A recurring schedule named '{name}' is already registered.", nameof(name));
        }

        // A recurring job is due at its occurrence: a delay or a fixed due time would be silently ignored.
        if (options?.Delay is not null)
        {
            throw new ArgumentException(
                $"JobOptions.Delay is not supported by recurring schedule '{name}': each job is due at its cron occurrence.", nameof(options));
        }

        if (options?.RunAt is not null)
        {
            throw new ArgumentException(
                $"JobOptions.RunAt is not supported by recurring schedule '{name}': each job is due at its cron occurrence.", nameof(options));
        }

        // Validate the options now rather than at the first due time.
        JobValues.Build(JobKind<TPayload>.Name, options, new JobsOptions(), options?.Tenant, DateTimeOffset.UnixEpoch);
        var schedule = new RecurringJob(
            name, cron, expression, timeZone ?? TimeZoneInfo.Utc, JobKind<TPayload>.Name, o => JsonSerializer.Serialize(payload, o), options);

        // The time zone id is stored with the schedule's definition (a custom zone's id is any text).
        if (!JobText.IsStorable(schedule.Definition.TimeZone))
        {
            throw new ArgumentException(JobValues.NotStorable($"The time zone id of recurring schedule '{name}'"), nameof(timeZone));
        }

        Services.AddSingleton(schedule);
        return this;
    }
}
