using System;
using ScaleOps.Tenancy;

namespace ScaleOps.Jobs;

/// <summary>How one enqueued job runs. Every property is optional; unset ones take the defaults of <see cref="JobsOptions"/>.</summary>
public sealed class JobOptions
{
    /// <summary>The queue.</summary>
    /// <value>Default <see cref="JobsOptions.DefaultQueue"/>. 1 to 100 characters.</value>
    public string? Queue { get; init; }

    /// <summary>The priority within the tenant's work.</summary>
    /// <value>Default <see cref="JobPriority.Standard"/>.</value>
    public JobPriority Priority { get; init; } = JobPriority.Standard;

    /// <summary>When the job becomes due. Mutually exclusive with <see cref="Delay"/>.</summary>
    /// <value>Default: now.</value>
    public DateTimeOffset? RunAt { get; init; }

    /// <summary>How long after enqueueing the job becomes due. Mutually exclusive with <see cref="RunAt"/>.</summary>
    /// <value>Default: none. Not negative.</value>
    public TimeSpan? Delay { get; init; }

    /// <summary>How many attempts the job gets before it is dead.</summary>
    /// <value>Default <see cref="JobsOptions.MaxAttempts"/>. 1 to 1,000.</value>
    public int? MaxAttempts { get; init; }

    /// <summary>How long one attempt may run before its cancellation token fires and the attempt fails.</summary>
    /// <value>Default <see cref="JobsOptions.DefaultTimeout"/>. 1 ms to 24 h.</value>
    public TimeSpan? Timeout { get; init; }

    /// <summary>The tenant the job runs for (its handler runs with this ambient tenant).</summary>
    /// <value>Default: the ambient tenant of <see cref="ITenantContext"/> when enqueueing, or none.</value>
    public TenantId? Tenant { get; init; }

    /// <summary>
    /// A key that makes the job unique while an equal job (same kind, tenant and key) is pending or running: enqueueing
    /// a duplicate then inserts nothing. Once the first job finished, the key can be used again.
    /// </summary>
    /// <value>Default: none. 1 to 500 characters.</value>
    public string? UniqueKey { get; init; }

    /// <summary>
    /// A key that limits how many jobs carrying it run at once in the queue (for example <c>webhook:example.com</c>),
    /// across all workers and hosts. See <see cref="ConcurrencyLimit"/>.
    /// </summary>
    /// <value>Default: none (no limit). 1 to 500 characters.</value>
    public string? ConcurrencyKey { get; init; }

    /// <summary>At most this many jobs with the same <see cref="ConcurrencyKey"/> run at once in the queue.</summary>
    /// <value>Default 1 when <see cref="ConcurrencyKey"/> is set. 1 to 10,000; only with a key.</value>
    public int? ConcurrencyLimit { get; init; }
}
