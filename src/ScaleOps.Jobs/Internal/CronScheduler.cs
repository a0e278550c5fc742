using System;
using System.Collections.Generic;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using Microsoft.Extensions.Logging;

namespace ScaleOps.Jobs.Internal;

/// <summary>
/// Fires recurring schedules. Each host computes the latest due time of each schedule and tries to fire it; the
/// database lets only the host that moves the schedule's <c>last_due_at</c> forward insert the job, so every due time
/// fires once however many hosts run. Missed due times (all hosts down) collapse into one run of the latest.
/// Each schedule is handled on its own: a failure (reading its last due time at start, or firing) is logged and retried
/// with backoff for that schedule, and never ends the loop.
/// </summary>
internal sealed class CronScheduler(
    IReadOnlyList<RecurringJob> schedules, JobStore store, JobsOptions options, TimeProvider time, ILogger logger)
{
    private static readonly TimeSpan MaxSleep = TimeSpan.FromMinutes(1);
    private static readonly TimeSpan FirstRetryDelay = TimeSpan.FromMilliseconds(100);
    private static readonly TimeSpan MaxRetryDelay = TimeSpan.FromSeconds(5);

    private readonly List<ScheduleState> _states = schedules.Select(s => new ScheduleState(s)).ToList();

    public async Task RunAsync(CancellationToken stopping)
    {
        if (_states.Count == 0)
        {
            return;
        }

        try
        {
            while (!stopping.IsCancellationRequested)
            {
                var wake = await StepAllAsync(time.GetUtcNow(), stopping).ConfigureAwait(false);
                var sleep = wake - time.GetUtcNow();
                await Task.Delay(sleep > TimeSpan.FromMilliseconds(1) ? sleep : TimeSpan.FromMilliseconds(1), time, stopping).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (stopping.IsCancellationRequested)
        {
        }
    }

    /// <summary>
    /// One pass over the schedules at <paramref name="now"/> (tests drive it with the times they choose); returns when to
    /// look again, at most <see cref="MaxSleep"/> later.
    /// </summary>
    internal async Task<DateTimeOffset> StepAllAsync(DateTimeOffset now, CancellationToken stopping)
    {
        var wake = now + MaxSleep;
        foreach (var state in _states)
        {
            var next = await StepAsync(state, now, stopping).ConfigureAwait(false);
            if (next < wake)
            {
                wake = next;
            }
        }

        return wake;
    }

    /// <summary>Reads the schedule's last due time if not yet known, fires its latest due time; returns when to look again.</summary>
    private async Task<DateTimeOffset> StepAsync(ScheduleState state, DateTimeOffset now, CancellationToken stopping)
    {
        var s = state.Schedule;
        DateTimeOffset? due = null;
        try
        {
            if (state.Last is not { } last)
            {
                state.Payload ??= s.Payload(options.SerializerOptions);
                last = await store.ScheduleGetLastDueAsync(s.Name, stopping).ConfigureAwait(false) ?? now;
                state.Last = last;
            }

            due = Latest(s, last, now);
            if (due is { } d)
            {
                var values = JobValues.Build(s.Kind, s.Options, options, s.Options?.Tenant, now);
                var id = await store.ScheduleFireAsync(s.Name, d, values, state.Payload!, now, stopping).ConfigureAwait(false);
                if (id is { } jobId)
                {
                    JobsLog.ScheduleFired(logger, s.Name, jobId, d);
                }

                state.Last = last = d;
            }

            state.RetryDelay = FirstRetryDelay;
            return s.Cron.GetNextOccurrence(last > now ? last : now, s.TimeZone) ?? DateTimeOffset.MaxValue;
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !stopping.IsCancellationRequested)
        {
            var delay = state.RetryDelay;
            if (due is { } d)
            {
                JobsLog.ScheduleFailed(logger, ex, s.Name, d, delay);
            }
            else
            {
                JobsLog.ScheduleReadFailed(logger, ex, s.Name, delay);
            }

            state.RetryDelay = TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, MaxRetryDelay.Ticks));
            return now + delay;
        }
    }

    /// <summary>
    /// The latest occurrence in (after, now], or null; however long ago <paramref name="after"/> is (older misses collapse
    /// into it). Found by stepping back once from <paramref name="now"/>, so the work does not depend on how many
    /// occurrences were missed: a look-back bounded to a day missed a weekly or yearly due time for good once it was
    /// more than a day late. The step back is taken forward again to the occurrence it stands for: for a time that a
    /// spring-forward skips (02:30 in New York's gap), Cronos steps back to the last second before the gap (01:59:59)
    /// but forward to the gap's end (03:00), the time the scheduler waited for; the due time is the latter. The result
    /// is in UTC.
    /// </summary>
    internal static DateTimeOffset? Latest(RecurringJob s, DateTimeOffset after, DateTimeOffset now)
    {
        if (s.Cron.GetPreviousOccurrence(now, s.TimeZone, inclusive: true) is not { } latest)
        {
            return null;
        }

        if (s.Cron.GetNextOccurrence(latest, s.TimeZone, inclusive: true) is { } occurrence && occurrence <= now)
        {
            latest = occurrence;
        }

        // In UTC: Cronos gives it with the zone's offset, and Npgsql writes only offset 0 to timestamptz (a schedule in
        // any zone off UTC failed every due time with an ArgumentException and never fired).
        return latest > after ? latest.ToUniversalTime() : null;
    }

    private sealed class ScheduleState(RecurringJob schedule)
    {
        public RecurringJob Schedule { get; } = schedule;

        /// <summary>The last due time fired (or "now" at start when never fired); null until read from the database.</summary>
        public DateTimeOffset? Last { get; set; }

        public string? Payload { get; set; }

        public TimeSpan RetryDelay { get; set; } = FirstRetryDelay;
    }
}
