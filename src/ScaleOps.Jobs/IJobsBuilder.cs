using System;

namespace ScaleOps.Jobs;

/// <summary>
/// Registers job handlers and recurring schedules; returned by <c>AddJobs</c>. It is also the ScaleOps builder, so the
/// chain goes on: <c>services.AddScaleOps(...).AddJobs(...).AddHandler&lt;T, H&gt;().AddCaching(...)</c>.
/// </summary>
public interface IJobsBuilder : IScaleOpsBuilder
{
    /// <summary>
    /// Registers <typeparamref name="THandler"/> (scoped: one instance per job) for the payload type's kind
    /// (<see cref="JobKindAttribute"/> or the type's full name). Registering the same pair twice is harmless.
    /// </summary>
    /// <typeparam name="TPayload">The payload type.</typeparam>
    /// <typeparam name="THandler">The handler.</typeparam>
    /// <returns>This builder.</returns>
    /// <exception cref="InvalidOperationException">Another payload type already uses the same kind.</exception>
    IJobsBuilder AddHandler<TPayload, THandler>()
        where THandler : class, IJobHandler<TPayload>;

    /// <summary>
    /// Enqueues <paramref name="payload"/> at every occurrence of <paramref name="cron"/>. However many hosts register
    /// the same schedule, each occurrence is enqueued once. Occurrences missed while no host ran collapse into one,
    /// the latest, however long ago they were. One name runs on one timetable: hosts whose cron expression or time zone
    /// differs from the most recently started host's do not fire it (they log a warning), and a changed timetable starts
    /// when the host that brought it starts, without a run for the old one's missed occurrences.
    /// </summary>
    /// <typeparam name="TPayload">The payload type (a handler for it runs the job).</typeparam>
    /// <param name="name">The schedule's stable name, unique in the database; 1 to 200 characters.</param>
    /// <param name="cron">A Cronos expression: 5 fields (minute precision) or 6 (seconds first).</param>
    /// <param name="payload">
    /// The payload of every job, serialized with <see cref="JobsOptions.SerializerOptions"/> when the host starts: one that
    /// cannot be serialized fails the start with an <see cref="InvalidOperationException"/> naming the schedule.
    /// </param>
    /// <param name="options">
    /// Options of every job (queue, priority, tenant...); null for the defaults. Not <see cref="JobOptions.Delay"/> or
    /// <see cref="JobOptions.RunAt"/>: each job is due at its occurrence.
    /// </param>
    /// <param name="timeZone">The time zone of the expression; UTC when null.</param>
    /// <returns>This builder.</returns>
    /// <exception cref="ArgumentException">
    /// The name or the expression is invalid, the expression never occurs (30 February), the name is taken,
    /// <paramref name="options"/> are invalid or set <see cref="JobOptions.Delay"/> or <see cref="JobOptions.RunAt"/>, or
    /// the time zone's id has a NUL character or a lone UTF-16 surrogate.
    /// </exception>
    IJobsBuilder AddRecurring<TPayload>(string name, string cron, TPayload payload, JobOptions? options = null, TimeZoneInfo? timeZone = null);
}
