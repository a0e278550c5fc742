namespace ScaleOps.Jobs;

/// <summary>How a worker processes one queue.</summary>
public sealed class QueueOptions
{
    /// <summary>How many jobs of this queue one host runs at once. The producer fetches only free slots.</summary>
    /// <value>Default 10. 1 to 10,000.</value>
    public int Concurrency { get; set; } = Internal.JobsDefaults.Concurrency;

    /// <summary>
    /// At most this many jobs of one tenant run at once in this queue, across all hosts; 0 for no cap.
    /// Tenants are served round robin either way; the cap also leaves room for others when a tenant's jobs are slow.
    /// </summary>
    /// <value>Default 0 (no cap). 0 to 10,000.</value>
    public int MaxRunningPerTenant { get; set; }

    /// <summary>
    /// How many started jobs the worker may hold in memory, beyond its running handlers, to fetch in bigger batches.
    /// 0 fetches exactly the free slots (the fairest: a small tenant's new job waits for no buffer). A buffer raises
    /// throughput of short jobs (one fetch serves many), at the price of claiming jobs before a slot is free: they hold
    /// leases (renewed by heartbeats), count toward <see cref="MaxRunningPerTenant"/>, and are given back at shutdown;
    /// if the host crashes, their attempt counts although they never started (on its last attempt such a job is dead).
    /// The worker refetches when half the buffer is free. About 4x the throughput of 0 for no-op jobs at concurrency 10 (docs/benchmarks.md).
    /// </summary>
    /// <value>Default 0. 0 to 100,000.</value>
    public int LocalBuffer { get; set; }

    /// <summary>
    /// Whether a job enqueued on a host that runs this queue may start there at once: when the host has a free slot and
    /// a handler for its kind, and nothing due waits in the queue, the job is inserted already started and leased to
    /// this host, and its handler starts right after the insert commits, without a NOTIFY and a fetch (about half the
    /// pickup latency, docs/benchmarks.md). Only for <see cref="IJobClient"/>'s <c>EnqueueAsync</c> without a connection
    /// (any enqueue on the caller's connection, batches and recurring jobs go in pending), for jobs due now, without a
    /// concurrency key, in a queue without <see cref="MaxRunningPerTenant"/>. Otherwise, and whenever jobs wait (or the
    /// queue holds 32 or more pending jobs, due or delayed; a due job held back by its key limit or its tenant's cap
    /// counts as waiting), a job goes in pending and the workers fetch it in priority, due-time and tenant order as
    /// usual. Crash safety is the same as for a fetched job (a lease renewed by heartbeats, rescued when it expires).
    /// </summary>
    /// <value>Default true.</value>
    public bool LocalDispatch { get; set; } = true;
}
