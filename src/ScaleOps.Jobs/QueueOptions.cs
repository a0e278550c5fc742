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
}
