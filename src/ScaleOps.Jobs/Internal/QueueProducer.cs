using System;
using System.Collections.Generic;
using System.Threading;
using System.Threading.Tasks;
using Microsoft.Extensions.Logging;
using ScaleOps.Data;

namespace ScaleOps.Jobs.Internal;

/// <summary>
/// The fetch loop of one queue. It sleeps until a notification, a freed slot (while work remains) or the jittered poll
/// wakes it, then fetches as many jobs as it has free slots (plus free room in the optional local buffer) in one
/// statement and starts them. A fetch runs with <see cref="CancellationToken.None"/>, so shutdown never strands rows.
/// </summary>
internal sealed partial class QueueProducer(
    string queue, QueueOptions queueOptions, JobsOptions options, JobStore store, JobExecutor executor, LeaseRegistry leases,
    TimeProvider time, DatabaseClock clock, ILogger logger)
{
    /// <summary>Fetches in a row that start nothing but stop before looking at every tenant (tenants at their cap).</summary>
    private const int MaxEmptyScans = 10;

    private readonly AsyncSignal _wake = new();
    private readonly TaskCompletionSource _drained = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly Lock _gate = new();
    private readonly Queue<FetchedJob> _buffer = new();
    private readonly int _refetchAt = queueOptions.LocalBuffer == 0 ? 1 : Math.Max(1, queueOptions.LocalBuffer / 2);

    private int _running;
    private int _moreWork = 1;
    private bool _stopping;
    private bool _pumping;
    private bool _pumpAgain;
    private int _pumpGeneration;
    private (FetchedJob? Job, long Since) _inline;
    private TaskCompletionSource? _pumpDone;
    private string? _cursor; // null: from the first tenant
    private int _emptyScans;
    private int _completionsWritten;
    private int _fetches;
    private int _waitingForCompletions;
    private CancellationToken _shutdown;
    private CancellationToken _stopFetching = new(canceled: true);
    private bool _started;
    private bool _fetching;
    private bool _closed;

    public string Queue => queue;

    /// <summary>Completes when every started job has finished (after <see cref="RunAsync"/> returned).</summary>
    public Task WhenDrained => _drained.Task;

    /// <summary>There may be work (a notification, the poll, a reconnect): fetch as soon as there is room.</summary>
    public void Wake()
    {
        Volatile.Write(ref _moreWork, 1);
        _wake.Set();
    }

    public async Task RunAsync(CancellationToken stopFetching, CancellationToken shutdown)
    {
        lock (_gate)
        {
            _shutdown = shutdown;
            _stopFetching = stopFetching;
            _started = true;
        }

        // Real time, whatever TimeProvider the host gives: a safety net for handlers that hold the pump's thread.
        using var watch = new Timer(static producer => ((QueueProducer)producer!).Watch(), this, WatchInterval, WatchInterval);
        var errorDelay = TimeSpan.FromMilliseconds(100);
        while (!stopFetching.IsCancellationRequested)
        {
            _wake.Reset();
            int room;
            bool fetch;
            lock (_gate)
            {
                var held = _running + _buffer.Count;
                room = queueOptions.Concurrency + queueOptions.LocalBuffer - held;
                fetch = room > 0 && (room >= _refetchAt || held == 0) && Interlocked.Exchange(ref _moreWork, 0) == 1;

                // While a fetch is in flight, local dispatch reserves nothing: the fetch may already have started older
                // jobs for the free slots, and a job inserted started now would run ahead of them.
                _fetching = fetch;
            }

            if (fetch)
            {
                try
                {
                    await FetchAndStartAsync(room).ConfigureAwait(false);
                    errorDelay = TimeSpan.FromMilliseconds(100);
                }
                catch (Exception ex) when (ex is not OperationCanceledException || !stopFetching.IsCancellationRequested)
                {
                    // Whatever failed, the fetch loop goes on after a pause: if it ended, the queue would stop on this host.
                    JobsLog.FetchFailed(logger, ex, queue, errorDelay);
                    Volatile.Write(ref _moreWork, 1);
                    await DelayAsync(errorDelay, stopFetching).ConfigureAwait(false);
                    errorDelay = TimeSpan.FromTicks(Math.Min(errorDelay.Ticks * 2, TimeSpan.FromSeconds(5).Ticks));
                }
                finally
                {
                    EndFetch();
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

                _emptyScans = 0;
            }
            catch (OperationCanceledException) when (stopFetching.IsCancellationRequested)
            {
                break;
            }
        }

        // Buffered jobs that never started stay in the lease registry; the worker gives them back.
        lock (_gate)
        {
            _stopping = true;
            _buffer.Clear();
            if (_running == 0)
            {
                _drained.TrySetResult();
            }
        }
    }

    /// <summary>How many fetches this loop has made (tests check what wakes it).</summary>
    internal int Fetches => Volatile.Read(ref _fetches);

    /// <summary>Whether the fetch loop has ended (the worker is stopping; tests wait for it).</summary>
    internal bool IsStopping
    {
        get
        {
            lock (_gate)
            {
                return _stopping;
            }
        }
    }

    /// <summary>Whether a fetch is in flight (tests wait for the loop to be idle).</summary>
    internal bool IsFetching
    {
        get
        {
            lock (_gate)
            {
                return _fetching;
            }
        }
    }

    private async Task FetchAndStartAsync(int room)
    {
        Interlocked.Increment(ref _fetches);
        var now = clock.GetUtcNow(); // compared with run_at, which other hosts wrote
        var written = Volatile.Read(ref _completionsWritten);
        var fetched = await store.JobFetchAvailableAsync(
            queue, room, _cursor, queueOptions.MaxRunningPerTenant, now, options.LeaseDuration, CancellationToken.None).ConfigureAwait(false);

        // The next fetch starts after the last tenant this one looked at, also when it started nothing: otherwise a
        // tenant at its cap would be looked at first, and use up the fetch, again and again.
        _cursor = fetched.NextCursor;
        if (fetched.PassedOver > 0)
        {
            // Tenants were passed over for their cap or a key limit, which count running jobs in the database: a written
            // completion may free them (CompletionsWritten wakes the loop), including one written during this fetch.
            Volatile.Write(ref _waitingForCompletions, 1);
            if (Volatile.Read(ref _completionsWritten) != written)
            {
                Volatile.Write(ref _moreWork, 1);
            }
        }

        var jobs = fetched.Jobs;
        if (jobs.Count == 0)
        {
            // The scan stopped before it had looked at every tenant: go on from the cursor, a bounded number of times.
            if (fetched.More && ++_emptyScans <= MaxEmptyScans)
            {
                Volatile.Write(ref _moreWork, 1);
            }

            return;
        }

        // Something came back: there may be more, so fetch again as soon as there is room.
        _emptyScans = 0;
        Volatile.Write(ref _moreWork, 1);
        lock (_gate)
        {
            foreach (var job in jobs)
            {
                leases.Add(job);
                _buffer.Enqueue(job);
            }

            _fetching = false;
        }

        // The batch starts on the thread pool, not on this loop (a handler that holds its thread must never stop the
        // fetching), and the loop waits for the pump to go through it, as if it ran here: fetching while the pump runs
        // made smaller fetches and cost a quarter of the throughput with a buffer. If a handler holds the pump, the
        // watchdog releases this wait when it hands the pump to another thread.
        var pumped = new TaskCompletionSource();
        ThreadPool.UnsafeQueueUserWorkItem(static state => state.Producer.Pump(state.Pumped), (Producer: this, Pumped: pumped), preferLocal: true);
        await pumped.Task.ConfigureAwait(false);
    }

    private void EndFetch()
    {
        lock (_gate)
        {
            _fetching = false;
        }
    }

    /// <summary>
    /// The completer wrote a batch: running counts in the database went down. If the last fetch passed over tenants at
    /// their cap or key limit, fetch again (their next jobs would otherwise wait for the poll).
    /// </summary>
    public void CompletionsWritten()
    {
        Interlocked.Increment(ref _completionsWritten);
        if (Interlocked.Exchange(ref _waitingForCompletions, 0) == 1)
        {
            Wake();
        }
    }

    /// <summary>
    /// Starts buffered jobs while slots are free. Jobs start inline: a handler runs on this thread until it returns a
    /// task, so a batch of quick jobs frees its slots before the next fetch, without a thread hop per job. Re-entrant
    /// calls (a job that finished synchronously) only ask the running pump to look again, so the stack never grows. A
    /// handler that holds the thread longer than <see cref="PumpStall"/> loses the pump to another thread (<see cref="Watch"/>).
    /// </summary>
    private void Pump() => Pump(null);

    /// <summary><see cref="Pump()"/>, completing <paramref name="done"/> when this call is through (or the watchdog took the pump from it).</summary>
    private void Pump(TaskCompletionSource? done)
    {
        int generation;
        lock (_gate)
        {
            if (_pumping)
            {
                _pumpAgain = true;
                generation = -1;
            }
            else
            {
                _pumping = true;
                _pumpDone = done;
                generation = _pumpGeneration;
            }
        }

        if (generation < 0)
        {
            done?.TrySetResult(); // the running pump goes through the batch
            return;
        }

        while (true)
        {
            FetchedJob? next = null;
            lock (_gate)
            {
                if (_running < queueOptions.Concurrency && _buffer.Count > 0)
                {
                    next = _buffer.Dequeue();
                    _running++;
                    _inline = (next, Environment.TickCount64);
                }
                else if (_pumpAgain)
                {
                    _pumpAgain = false;
                    continue;
                }
                else
                {
                    _pumping = false;
                    _pumpDone = null;
                }
            }

            if (next is null)
            {
                done?.TrySetResult();
                return;
            }

            _ = RunOneAsync(next);
            lock (_gate)
            {
                if (_pumpGeneration != generation)
                {
                    // The watchdog gave the pump to another thread while this job held this one: it is no longer ours.
                    _blocked.RemoveAll(b => ReferenceEquals(b.Job, next));
                    return;
                }

                _inline = default;
            }
        }
    }

    private async Task RunOneAsync(FetchedJob job)
    {
        try
        {
            await executor.RunAsync(job, _shutdown).ConfigureAwait(false);
        }
        finally
        {
            SlotFreed();
        }
    }

    private void SlotFreed() => SlotFreed(pumpHere: true);

    /// <summary>
    /// A slot is free again. Buffered jobs it lets start run on this thread (<paramref name="pumpHere"/>) or, when this
    /// thread is not the producer's (an enqueuing caller's), on the thread pool without the caller's execution context.
    /// </summary>
    private void SlotFreed(bool pumpHere)
    {
        int room;
        bool buffered;
        lock (_gate)
        {
            _running--;
            if (_stopping && _running == 0)
            {
                _drained.TrySetResult();
            }

            room = queueOptions.Concurrency + queueOptions.LocalBuffer - _running - _buffer.Count;
            buffered = _buffer.Count > 0;
        }

        if (pumpHere)
        {
            Pump();
        }
        else if (buffered)
        {
            ThreadPool.UnsafeQueueUserWorkItem(static producer => producer.Pump(), this, preferLocal: false);
        }

        if (room >= _refetchAt && Volatile.Read(ref _moreWork) == 1)
        {
            // The loop's continuation runs asynchronously, in its own context.
            _wake.Set();
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
