using System;
using System.Collections.Generic;
using System.Threading;
using System.Threading.Tasks;
using Microsoft.Extensions.Logging;

namespace ScaleOps.Jobs.Internal;

/// <summary>
/// Fires recurring schedules. Each host computes the latest due time of each schedule and tries to fire it; the
/// database lets only the host that moves the schedule's <c>last_due_at</c> forward insert the job, so every due time
/// fires once however many hosts run. Missed due times (all hosts down) collapse into one run of the latest.
/// </summary>
internal sealed class CronScheduler(
    IReadOnlyList<RecurringJob> schedules, JobStore store, JobsOptions options, TimeProvider time, ILogger logger)
{
    private static readonly TimeSpan MaxSleep = TimeSpan.FromMinutes(1);

    public async Task RunAsync(CancellationToken stopping)
    {
        if (schedules.Count == 0)
        {
            return;
        }

        var last = new Dictionary<string, DateTimeOffset>(StringComparer.Ordinal);
        var payloads = new Dictionary<string, string>(StringComparer.Ordinal);
        try
        {
            foreach (var s in schedules)
            {
                payloads[s.Name] = s.Payload(options.SerializerOptions);
                last[s.Name] = await store.ScheduleGetLastDueAsync(s.Name, stopping).ConfigureAwait(false) ?? time.GetUtcNow();
            }

            while (!stopping.IsCancellationRequested)
            {
                var now = time.GetUtcNow();
                var wake = now + MaxSleep;
                foreach (var s in schedules)
                {
                    var due = Latest(s, last[s.Name], now);
                    if (due is { } d)
                    {
                        if (await FireAsync(s, d, payloads[s.Name], now, stopping).ConfigureAwait(false))
                        {
                            last[s.Name] = d;
                        }
                        else if (now + TimeSpan.FromSeconds(1) < wake)
                        {
                            wake = now + TimeSpan.FromSeconds(1);
                        }
                    }

                    var next = s.Cron.GetNextOccurrence(last[s.Name] > now ? last[s.Name] : now, s.TimeZone);
                    if (next is { } n && n < wake)
                    {
                        wake = n;
                    }
                }

                var sleep = wake - time.GetUtcNow();
                await Task.Delay(sleep > TimeSpan.FromMilliseconds(1) ? sleep : TimeSpan.FromMilliseconds(1), time, stopping).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (stopping.IsCancellationRequested)
        {
        }
    }

    /// <summary>The latest occurrence in (after, now], or null.</summary>
    private static DateTimeOffset? Latest(RecurringJob s, DateTimeOffset after, DateTimeOffset now)
    {
        // Look back at most a day: older misses collapse into the latest one anyway.
        var from = after < now - TimeSpan.FromDays(1) ? now - TimeSpan.FromDays(1) : after;
        DateTimeOffset? latest = null;
        foreach (var occurrence in s.Cron.GetOccurrences(from, now, s.TimeZone, fromInclusive: false, toInclusive: true))
        {
            latest = occurrence;
        }

        return latest;
    }

    private async Task<bool> FireAsync(RecurringJob s, DateTimeOffset due, string payload, DateTimeOffset now, CancellationToken stopping)
    {
        try
        {
            var values = JobValues.Build(s.Kind, s.Options, options, s.Options?.Tenant, now);
            var id = await store.ScheduleFireAsync(s.Name, due, values, payload, now, stopping).ConfigureAwait(false);
            if (id is { } jobId)
            {
                JobsLog.ScheduleFired(logger, s.Name, jobId, due);
            }

            return true;
        }
        catch (Exception ex) when (ex is Npgsql.NpgsqlException or TimeoutException or InvalidOperationException)
        {
            JobsLog.ScheduleFailed(logger, ex, s.Name, due);
            return false;
        }
    }
}
