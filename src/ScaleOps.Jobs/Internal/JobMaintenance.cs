using System;
using System.Threading;
using System.Threading.Tasks;
using Microsoft.Extensions.Logging;
using ScaleOps.Data;

namespace ScaleOps.Jobs.Internal;

/// <summary>
/// The worker's periodic chores, each its own loop on <see cref="TimeProvider"/>: heartbeats (renew the leases of
/// running jobs; cancel the runs of those they find gone), the rescuer (re-queue jobs whose lease expired; refresh the queue-depth gauge) and retention (delete
/// finished jobs in batches). Every host runs them; the statements are safe to run concurrently.
/// </summary>
internal sealed class JobMaintenance(JobStore store, JobsOptions options, LeaseRegistry leases, JobsMetrics metrics, TimeProvider time, DatabaseClock clock,
    ILogger logger)
{
    public Task RunAsync(CancellationToken stopping) =>
        Task.WhenAll(
            LoopAsync(options.LeaseDuration / 3, HeartbeatAsync, "heartbeat", stopping),
            LoopAsync(options.RescueInterval, RescueAsync, "rescue", stopping),
            LoopAsync(options.RetentionInterval, RetainAsync, "retention", stopping));

    private async Task LoopAsync(TimeSpan period, Func<CancellationToken, Task> step, string name, CancellationToken stopping)
    {
        using var timer = new PeriodicTimer(period, time);
        try
        {
            do
            {
                try
                {
                    await step(stopping).ConfigureAwait(false);
                }
                catch (Exception ex) when (ex is not OperationCanceledException || !stopping.IsCancellationRequested)
                {
                    // Whatever failed, the loop goes on: a heartbeat loop that ended would get every running job rescued.
                    JobsLog.MaintenanceFailed(logger, ex, name);
                }
            }
            while (await timer.WaitForNextTickAsync(stopping).ConfigureAwait(false));
        }
        catch (OperationCanceledException) when (stopping.IsCancellationRequested)
        {
        }
    }

    private async Task HeartbeatAsync(CancellationToken cancellationToken)
    {
        var held = leases.Snapshot(renewable: true);
        if (held.Count == 0)
        {
            return;
        }

        var renewed = await store.JobHeartbeatManyAsync(held, options.LeaseDuration, cancellationToken).ConfigureAwait(false);
        if (renewed is null)
        {
            return;
        }

        // A lease it renewed nothing for is gone: the job was rescued (a heartbeat came too late) or given back, and may
        // be running elsewhere already. The run here is cancelled (Lose skips jobs whose outcome was handed over).
        foreach (var token in held)
        {
            if (!renewed.Contains(token) && leases.Lose(token) is { } job)
            {
                JobsLog.LeaseLost(logger, job.Id, job.Kind, job.Attempt);
            }
        }
    }

    private async Task RescueAsync(CancellationToken cancellationToken)
    {
        const int Batch = 1000;
        while (true)
        {
            var rescued = await store.JobRescueExpiredAsync(clock.GetUtcNow(), Batch, cancellationToken).ConfigureAwait(false);
            int requeued = 0, dead = 0;
            foreach (var group in rescued)
            {
                requeued += group.Requeued;
                dead += group.Dead;
                metrics.Rescued(group.Queue, group.Kind, group.Requeued, group.Dead);
            }

            if (requeued + dead > 0)
            {
                JobsLog.Rescued(logger, requeued, dead);
            }

            if (requeued + dead < Batch)
            {
                break;
            }
        }

        metrics.SetDepths(
            await store.QueueDepthAsync(clock.GetUtcNow(), cancellationToken).ConfigureAwait(false), [options.DefaultQueue, .. options.Queues.Keys]);
    }

    /// <summary>
    /// Deletes the jobs past their retention. Ages are the database's clock on both sides (finished_at and the cutoff),
    /// never this host's: its clock may be minutes off the finishing hosts'.
    /// </summary>
    private async Task RetainAsync(CancellationToken cancellationToken)
    {
        if (options.SucceededRetention > TimeSpan.Zero)
        {
            await DeleteAsync("succeeded", options.SucceededRetention, cancellationToken).ConfigureAwait(false);
        }

        await DeleteAsync("cancelled", options.SucceededRetention, cancellationToken).ConfigureAwait(false);
        await DeleteAsync("dead", options.DeadRetention, cancellationToken).ConfigureAwait(false);
    }

    private async Task DeleteAsync(string state, TimeSpan retention, CancellationToken cancellationToken)
    {
        var total = 0;
        int deleted;
        do
        {
            deleted = await store.JobDeleteFinishedAsync(state, retention, JobsDefaults.RetentionBatchSize, cancellationToken).ConfigureAwait(false);
            total += deleted;
        }
        while (deleted == JobsDefaults.RetentionBatchSize);

        if (total > 0)
        {
            JobsLog.RetentionDeleted(logger, total, state);
        }
    }
}
