using System;
using ScaleOps.Tenancy;

namespace ScaleOps.Jobs;

/// <summary>What a handler knows about the job it runs.</summary>
public sealed class JobContext
{
    internal JobContext(long id, string kind, string queue, TenantId? tenant, int attempt, int maxAttempts, DateTimeOffset enqueuedAt)
    {
        Id = id;
        Kind = kind;
        Queue = queue;
        Tenant = tenant;
        Attempt = attempt;
        MaxAttempts = maxAttempts;
        EnqueuedAt = enqueuedAt;
    }

    /// <summary>The job id.</summary>
    public long Id { get; }

    /// <summary>The job kind.</summary>
    public string Kind { get; }

    /// <summary>The queue.</summary>
    public string Queue { get; }

    /// <summary>The job's tenant, also the ambient tenant while the handler runs; null for a job without a tenant.</summary>
    public TenantId? Tenant { get; }

    /// <summary>This attempt's number, from 1.</summary>
    public int Attempt { get; }

    /// <summary>The number of attempts the job gets.</summary>
    public int MaxAttempts { get; }

    /// <summary>When the job was enqueued.</summary>
    public DateTimeOffset EnqueuedAt { get; }
}
