using System.Threading;

namespace ScaleOps.Jobs.Internal;

/// <summary>Local dispatch (<see cref="QueueOptions.LocalDispatch"/>): the slots a client reserves for jobs it inserts started.</summary>
internal sealed partial class QueueProducer
{
    /// <summary>
    /// Local dispatch: reserves a free slot for a job the client is about to insert already started on this host. Only
    /// while the loop runs, nothing waits in the buffer, a slot is free, and the queue has no tenant cap (a cap is
    /// counted under the fetch's advisory lock). The caller either hands the job over (<see cref="TryStartReserved"/>) or
    /// gives the slot back (<see cref="Unreserve"/>); until then the slot counts as running, so a fetch leaves it free
    /// and a stop waits for it.
    /// </summary>
    public bool TryReserve()
    {
        if (!queueOptions.LocalDispatch || queueOptions.MaxRunningPerTenant > 0)
        {
            return false;
        }

        lock (_gate)
        {
            if (!_started || _stopping || _closed || _fetching || _stopFetching.IsCancellationRequested || _buffer.Count > 0
                || _running >= queueOptions.Concurrency)
            {
                return false;
            }

            _running++;
            return true;
        }
    }

    /// <summary>
    /// The reserved job did not go in started (a duplicate, due jobs waiting, or an error): the slot is free again at
    /// once. Buffered jobs this lets start must not run inline on the enqueuing caller, in its execution context (its
    /// ambient tenant and other async-local state): they start on the thread pool, without it.
    /// </summary>
    public void Unreserve() => SlotFreed(pumpHere: false);

    /// <summary>
    /// Runs a job the client inserted started in a reserved slot, on the thread pool without the enqueuing caller's
    /// execution context (its async-local state, tenant scope included, stays with the caller). Returns false, and frees
    /// the slot, when the worker began to stop meanwhile (it starts nothing new once fetching stops, and its leases may
    /// already have been given back): the caller gives this one back, for another host to run.
    /// </summary>
    public bool TryStartReserved(FetchedJob job)
    {
        lock (_gate)
        {
            if (!_closed && !_stopping && !_stopFetching.IsCancellationRequested && !_shutdown.IsCancellationRequested)
            {
                leases.Add(job);
                ThreadPool.UnsafeQueueUserWorkItem(static state => state.Producer.RunOffPump(state.Job), (Producer: this, Job: job), preferLocal: false);
                return true;
            }
        }

        Unreserve();
        return false;
    }

    /// <summary>
    /// The worker is about to give back the leases it holds: from now on a reserved job is not started here (its lease
    /// would miss that release and wait for the rescuer). Taken under the same lock as <see cref="TryStartReserved"/>.
    /// </summary>
    public void Close()
    {
        lock (_gate)
        {
            _closed = true;
        }
    }
}
