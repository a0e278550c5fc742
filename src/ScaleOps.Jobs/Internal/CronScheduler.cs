using System;
using System.Collections.Generic;
using System.Linq;
using System.Text.Json;
using System.Threading;
using System.Threading.Tasks;
using Microsoft.Extensions.Logging;
using ScaleOps.Data;

namespace ScaleOps.Jobs.Internal;

/// <summary>
/// Fires recurring schedules. Each host computes the latest due time of each schedule and tries to fire it; the
/// database lets only the host that moves the schedule's <c>last_due_at</c> forward insert the job, so every due time
/// fires once however many hosts run. Missed due times (all hosts down) collapse into one run of the latest.
/// A schedule's row holds its definition (cron and time zone, <see cref="ScheduleDefinition"/>): a host writes its own
/// at start, so the most recently started host's definition wins, and a host whose definition differs from the stored
/// one does not fire (it logs a warning naming both, once) until its definition is stored again. A changed definition
/// starts its timetable at the start of the host that wrote it: no catch-up run for the old timetable.
/// A host with the stored definition records that it is alive for the schedule (its row's <c>definition_seen_at</c>,
/// written at start, at each fire and every <see cref="_checkInterval"/>); a quiet host reads the row as often, and when
/// the row has not changed for <see cref="JobsOptions.RecurringTakeoverAfter"/> on its own clock (no host with the stored
/// definition fired, started or was seen meanwhile) it takes the schedule over: it stores its own definition with a
/// conditional UPDATE of the row it observed, so of two quiet hosts only the first changes it, and its timetable starts
/// then. How long the row stayed unchanged is measured on the quiet host's clock alone (a duration, so its offset from
/// the other hosts' clocks does not matter); a failed check starts the observation anew (a database outage is no host's
/// absence). The times stored for that are the database's clock (<c>defined_at</c>, <c>definition_seen_at</c>: they are
/// compared with each other, and were written by different hosts); the due times (<c>last_due_at</c>) are the hosts'
/// cron arithmetic on their estimates of the database's clock (<see cref="ScaleOps.Data.DatabaseClock"/>), which the
/// loop reads for "now"; the quiet period is the difference of two such readings on one host.
/// Each schedule is handled on its own: a failure (reading its last due time at start, or firing) is logged and retried
/// with backoff for that schedule, and never ends the loop.
/// </summary>
internal sealed class CronScheduler(
    IReadOnlyList<RecurringJob> schedules, JobStore store, JobsOptions options, TimeProvider time, DatabaseClock clock, ILogger logger)
{
    private static readonly TimeSpan MaxSleep = TimeSpan.FromMinutes(1);
    private static readonly TimeSpan FirstRetryDelay = TimeSpan.FromMilliseconds(100);
    private static readonly TimeSpan MaxRetryDelay = TimeSpan.FromSeconds(5);

    private readonly List<ScheduleState> _states = schedules.Select(s => new ScheduleState(s)).ToList();

    /// <summary>How often a host with the stored definition records that it is alive, and a quiet host reads the row.</summary>
    private readonly TimeSpan _checkInterval = TimeSpan.FromTicks(
        Math.Min(JobsDefaults.ScheduleCheckInterval.Ticks, options.RecurringTakeoverAfter.Ticks / 5));

    /// <summary>
    /// Serializes every schedule's payload with the host's serializer options, at start: one that cannot be serialized
    /// fails the start naming its schedule. It was serialized at the schedule's first step, so the host started, the
    /// schedule never fired, and a warning said for good that starting it (reading its last due time) had failed.
    /// </summary>
    /// <exception cref="InvalidOperationException">A payload cannot be serialized.</exception>
    public static void CheckPayloads(IEnumerable<RecurringJob> schedules, JsonSerializerOptions serializer)
    {
        foreach (var s in schedules)
        {
            try
            {
                s.Payload(serializer);
            }
            catch (Exception ex) when (ex is NotSupportedException or InvalidOperationException or JsonException)
            {
                throw new InvalidOperationException(
                    $"The payload of recurring schedule '{s.Name}' (kind '{s.Kind}') cannot be serialized to JSON with "
                    + $"JobsOptions.SerializerOptions: {ex.Message}", ex);
            }
        }
    }

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
                var wake = await StepAllAsync(clock.GetUtcNow(), stopping).ConfigureAwait(false);
                var sleep = wake - clock.GetUtcNow();
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

    /// <summary>
    /// Starts the schedule if not yet started, fires its latest due time, and, every <see cref="_checkInterval"/>,
    /// records that this host is alive for it or (quiet) checks whether the hosts with the stored definition are; returns
    /// when to look again.
    /// </summary>
    private async Task<DateTimeOffset> StepAsync(ScheduleState state, DateTimeOffset now, CancellationToken stopping)
    {
        var s = state.Schedule;
        DateTimeOffset? due = null;
        var checking = false;
        try
        {
            if (state.Last is not { } last)
            {
                state.Payload ??= s.Payload(options.SerializerOptions);
                last = await StartAsync(s, now, stopping).ConfigureAwait(false);
                state.Last = last;
            }

            due = Latest(s, last, now);
            if (due is { } d)
            {
                var values = JobValues.Build(s.Kind, s.Options, options, s.Options?.Tenant, now);
                var id = await store.ScheduleFireAsync(s.Name, s.Definition, d, values, state.Payload!, now, stopping).ConfigureAwait(false);
                if (id is { } jobId)
                {
                    JobsLog.ScheduleFired(logger, s.Name, jobId, d);
                    Resume(state);
                    state.NextCheck = now + _checkInterval; // a fire records that this host is alive for it
                }
                else
                {
                    // Another host fired this due time (or the job was a unique key's duplicate), or the stored
                    // definition is another host's: the row says which.
                    await CheckDefinitionAsync(state, now, stopping).ConfigureAwait(false);
                }

                // A takeover in the check moved the last due time to now, past this one.
                state.Last = last = state.Last > d ? state.Last.Value : d;
            }

            if (now >= state.NextCheck)
            {
                checking = true;
                await CheckAliveAsync(state, now, stopping).ConfigureAwait(false);
                last = state.Last!.Value;
            }

            state.RetryDelay = FirstRetryDelay;
            var next = s.Cron.GetNextOccurrence(last > now ? last : now, s.TimeZone) ?? DateTimeOffset.MaxValue;
            return next < state.NextCheck ? next : state.NextCheck;
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !stopping.IsCancellationRequested)
        {
            var delay = state.RetryDelay;
            state.Seen = null; // what was observed before a failure says nothing about the time since
            if (checking)
            {
                JobsLog.ScheduleCheckFailed(logger, ex, s.Name, delay);
            }
            else if (due is { } d)
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
    /// A host that fires the schedule records that it is alive for it (<c>ScheduleSeen.sql</c>); one whose definition
    /// turns out not to be the stored one, or a quiet one, checks the row (and may take the schedule over).
    /// </summary>
    private async Task CheckAliveAsync(ScheduleState state, DateTimeOffset now, CancellationToken stopping)
    {
        if (state.Conflict is null && await store.ScheduleSeenAsync(state.Schedule.Name, state.Schedule.Definition, stopping).ConfigureAwait(false))
        {
            state.NextCheck = now + _checkInterval;
            return;
        }

        await CheckDefinitionAsync(state, now, stopping).ConfigureAwait(false);
        state.NextCheck = now + _checkInterval;
    }

    /// <summary>
    /// Starts a schedule on this host: reads its row and, unless it holds this host's definition already, writes it
    /// (<c>ScheduleDefine.sql</c>: the most recently started host's definition wins). Returns the last due time to start
    /// from: the stored one when the definition is unchanged (missed due times fire once), else now (a new timetable
    /// starts now; the old one's missed due times are not run).
    /// </summary>
    private async Task<DateTimeOffset> StartAsync(RecurringJob s, DateTimeOffset now, CancellationToken stopping)
    {
        var row = await store.ScheduleGetAsync(s.Name, stopping).ConfigureAwait(false);
        if (row is { Definition: { } stored } && stored == s.Definition)
        {
            return row.LastDueAt;
        }

        var last = await store.ScheduleDefineAsync(s.Name, s.Definition, now, stopping).ConfigureAwait(false);
        if (row is { Definition: { } previous })
        {
            JobsLog.ScheduleDefinitionChanged(logger, s.Name, s.Definition.ToString(), previous.ToString());
        }

        return last;
    }

    /// <summary>
    /// After a fire that claimed nothing, or a check: a stored definition other than this host's makes it quiet (logged
    /// once per definition). A quiet host observes the row; once it has not changed for
    /// <see cref="JobsOptions.RecurringTakeoverAfter"/>, the host takes the schedule over (<c>ScheduleTakeOver.sql</c>).
    /// </summary>
    private async Task CheckDefinitionAsync(ScheduleState state, DateTimeOffset now, CancellationToken stopping)
    {
        var s = state.Schedule;
        var row = await store.ScheduleGetAsync(s.Name, stopping).ConfigureAwait(false);
        if (row is null || s.Definition.Accepts(row.Definition))
        {
            state.Seen = null;
            Resume(state);
            return;
        }

        if (state.Conflict != row.Definition)
        {
            state.Conflict = row.Definition;
            JobsLog.ScheduleDefinitionConflict(
                logger, s.Name, s.Definition.ToString(), row.Definition!.ToString(), row.DefinedAt ?? DateTimeOffset.MinValue);
        }

        state.NextCheck = now + _checkInterval;
        if (row != state.Seen)
        {
            state.Seen = row;
            state.SeenSince = now;
            return;
        }

        // Unchanged since SeenSince. A definition no host of this build wrote has no sign of life to wait for: never taken.
        // Both times are the database's clock (hosts' clocks minutes apart made a dead definition look never seen alive).
        if (now - state.SeenSince < options.RecurringTakeoverAfter || row.SeenAt is not { } seenAt || seenAt < row.DefinedAt)
        {
            return;
        }

        state.Seen = null;
        if (await store.ScheduleTakeOverAsync(s.Name, s.Definition, row, now, stopping).ConfigureAwait(false) is { } last)
        {
            state.Conflict = null;
            state.Last = last;
            JobsLog.ScheduleTakenOver(logger, s.Name, s.Definition.ToString(), row.Definition!.ToString(), options.RecurringTakeoverAfter, seenAt);
        }

        // Else the row changed meanwhile (a sign of life, a start, another quiet host's takeover): the next check reads it.
    }

    private void Resume(ScheduleState state)
    {
        if (state.Conflict is not null)
        {
            state.Conflict = null;
            JobsLog.ScheduleResumed(logger, state.Schedule.Name, state.Schedule.Definition.ToString());
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

        /// <summary>The other definition stored for the schedule while this host does not fire it (already logged); null while it fires.</summary>
        public ScheduleDefinition? Conflict { get; set; }

        /// <summary>When to record that this host is alive for the schedule, or (quiet) to read its row, next.</summary>
        public DateTimeOffset NextCheck { get; set; } = DateTimeOffset.MinValue;

        /// <summary>While quiet: the row as last read, unchanged since <see cref="SeenSince"/> (this host's reading); null after a failure.</summary>
        public ScheduleRow? Seen { get; set; }

        public DateTimeOffset SeenSince { get; set; }

        public TimeSpan RetryDelay { get; set; } = FirstRetryDelay;
    }
}
