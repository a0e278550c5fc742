using System;
using System.Collections.Generic;

namespace ScaleOps.Jobs.Internal;

/// <summary>
/// Where the client finds this host's running producers for local dispatch (<see cref="QueueOptions.LocalDispatch"/>).
/// The worker opens it when it starts and closes it before it stops fetching; while closed (or on a host that runs no
/// worker) every job goes in pending.
/// </summary>
internal sealed class LocalDispatch
{
    private volatile Snapshot? _open;

    public void Open(IReadOnlyDictionary<string, QueueProducer> producers, JobHandlers handlers) =>
        _open = new Snapshot(producers, handlers);

    public void Close() => _open = null;

    /// <summary>
    /// The producer of this host that may start this job at once, or null when it must go in pending: not due yet, a
    /// concurrency key, no worker or no handler for its kind here. The caller still has to reserve a slot
    /// (<see cref="QueueProducer.TryReserve"/>), once it holds a connection.
    /// </summary>
    public QueueProducer? Find(JobInsertValues job, DateTimeOffset now)
    {
        if (_open is not { } open || job.RunAt > now || job.ConcurrencyKey is not null
            || !open.Handlers.TryGet(job.Kind, out _) || !open.Producers.TryGetValue(job.Queue, out var producer))
        {
            return null;
        }

        return producer;
    }

    private sealed record Snapshot(
        IReadOnlyDictionary<string, QueueProducer> Producers, JobHandlers Handlers);
}
