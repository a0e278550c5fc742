using System;
using System.Threading;
using System.Threading.Tasks;
using Microsoft.Extensions.Logging;

namespace ScaleOps.Jobs.Internal;

/// <summary>
/// The fetch loop of one queue. It sleeps until a notification, a freed slot (while work remains) or the jittered poll
/// wakes it, then fetches exactly as many jobs as it has free slots in one statement and starts them. A fetch runs
/// with <see cref="CancellationToken.None"/>, so shutdown never strands locked rows.
/// </summary>
internal sealed class QueueProducer(
    string queue, QueueOptions queueOptions, JobsOptions options, JobStore store, JobExecutor executor, LeaseRegistry leases,
    TimeProvider time, ILogger logger)
{
    private readonly AsyncSignal _wake = new();
    private readonly TaskCompletionSource _drained = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _running;
    private int _moreWork = 1;
    private volatile bool _stopping;
    private string _cursor = string.Empty;

    public string Queue => queue;

    public int Running => Volatile.Read(ref _running);

    /// <summary>There may be work (a notification, the poll, a reconnect): fetch as soon as a slot is free.</summary>
    public void Wake()
    {
        Volatile.Write(ref _moreWork, 1);
        _wake.Set();
    }

    public async Task RunAsync(CancellationToken stopFetching, CancellationToken shutdown)
    {
        var errorDelay = TimeSpan.FromMilliseconds(100);
        while (!stopFetching.IsCancellationRequested)
        {
            _wake.Reset();
            var free = queueOptions.Concurrency - Volatile.Read(ref _running);
            if (free > 0 && Interlocked.Exchange(ref _moreWork, 0) == 1)
            {
                try
                {
                    await FetchAndStartAsync(free, shutdown).ConfigureAwait(false);
                    errorDelay = TimeSpan.FromMilliseconds(100);
                }
                catch (Exception ex) when (ex is Npgsql.NpgsqlException or TimeoutException or InvalidOperationException)
                {
                    JobsLog.FetchFailed(logger, ex, queue, errorDelay);
                    Volatile.Write(ref _moreWork, 1);
                    await DelayAsync(errorDelay, stopFetching).ConfigureAwait(false);
                    errorDelay = TimeSpan.FromTicks(Math.Min(errorDelay.Ticks * 2, TimeSpan.FromSeconds(5).Ticks));
                }

                continue;
            }

            var poll = options.PollInterval * (0.9 + (0.2 * Random.Shared.NextDouble()));
            try
            {
                if (!await _wake.WaitAsync(poll, time, stopFetching).ConfigureAwait(false))
                {
                    Volatile.Write(ref _moreWork, 1);
                }
            }
            catch (OperationCanceledException) when (stopFetching.IsCancellationRequested)
            {
                break;
            }
        }

        _stopping = true;
        if (Volatile.Read(ref _running) == 0)
        {
            _drained.TrySetResult();
        }
    }

    /// <summary>Completes when every started job has finished (after <see cref="RunAsync"/> returned).</summary>
    public Task WhenDrained => _drained.Task;

    private async Task FetchAndStartAsync(int free, CancellationToken shutdown)
    {
        var now = time.GetUtcNow();
        var jobs = await store.JobFetchAvailableAsync(
            queue, free, _cursor, queueOptions.MaxRunningPerTenant, now, now + options.LeaseDuration, CancellationToken.None).ConfigureAwait(false);
        if (jobs.Count == 0)
        {
            _cursor = string.Empty;
            return;
        }

        // Something came back: there may be more, so fetch again as soon as a slot is free.
        Volatile.Write(ref _moreWork, 1);
        var last = jobs[0];
        var tenantsServed = new System.Collections.Generic.HashSet<string>(StringComparer.Ordinal);
        foreach (var job in jobs)
        {
            if (job.TenantOrder > last.TenantOrder)
            {
                last = job;
            }

            tenantsServed.Add(job.TenantId);
            leases.Add(new LeaseToken(job.Id, job.Attempt));
            Interlocked.Increment(ref _running);
            // Started inline: a handler runs on this loop until its first await, so a batch of quick jobs frees its
            // slots before the next fetch (Task.Run here made fetches shrink to one or two jobs under load).
            _ = RunOneAsync(job, shutdown);
        }

        // When the fetch served as many tenants as it could look at, the next one starts after the last of them.
        _cursor = tenantsServed.Count >= free ? last.TenantId : string.Empty;
    }

    private async Task RunOneAsync(FetchedJob job, CancellationToken shutdown)
    {
        try
        {
            await executor.RunAsync(job, shutdown).ConfigureAwait(false);
        }
        finally
        {
            if (Interlocked.Decrement(ref _running) == 0 && _stopping)
            {
                _drained.TrySetResult();
            }

            if (Volatile.Read(ref _moreWork) == 1)
            {
                _wake.Set();
            }
        }
    }

    private async Task DelayAsync(TimeSpan delay, CancellationToken cancellationToken)
    {
        try
        {
            await Task.Delay(delay, time, cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
    }
}
