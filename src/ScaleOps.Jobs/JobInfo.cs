using System;
using ScaleOps.Tenancy;

namespace ScaleOps.Jobs;

/// <summary>A job as the admin API shows it.</summary>
public sealed class JobInfo
{
    /// <summary>The id.</summary>
    public required long Id { get; init; }

    /// <summary>The queue.</summary>
    public required string Queue { get; init; }

    /// <summary>The kind.</summary>
    public required string Kind { get; init; }

    /// <summary>The tenant, or null (no tenant, or a stored tenant id the current rules refuse: see <see cref="StoredTenantId"/>).</summary>
    public TenantId? Tenant { get; init; }

    /// <summary>
    /// The tenant id as stored: empty for no tenant. It differs from <see cref="Tenant"/> only for a job an earlier version
    /// stored under a tenant id that <see cref="TenantId"/> now refuses (an invisible code point): <see cref="Tenant"/> is
    /// then null, and the worker makes the job dead at once.
    /// </summary>
    public string StoredTenantId { get; init; } = string.Empty;

    /// <summary>The state.</summary>
    public required JobState State { get; init; }

    /// <summary>The priority.</summary>
    public required JobPriority Priority { get; init; }

    /// <summary>Attempts started so far.</summary>
    public required int Attempt { get; init; }

    /// <summary>Attempts allowed.</summary>
    public required int MaxAttempts { get; init; }

    /// <summary>When the job is (or was) due.</summary>
    public required DateTimeOffset RunAt { get; init; }

    /// <summary>When the job was enqueued.</summary>
    public required DateTimeOffset CreatedAt { get; init; }

    /// <summary>When the last attempt started.</summary>
    public DateTimeOffset? AttemptedAt { get; init; }

    /// <summary>
    /// When the job finished (succeeded, dead or cancelled), on the database server's clock (its <c>clock_timestamp()</c>),
    /// not the finishing host's: retention compares it with that clock, so that hosts' clock skew neither deletes finished
    /// jobs early nor keeps them late. Off from the other times by as much as the hosts' clocks are off the server's.
    /// </summary>
    public DateTimeOffset? FinishedAt { get; init; }

    /// <summary>The error of the last failed attempt.</summary>
    public string? LastError { get; init; }

    /// <summary>The unique key, if any.</summary>
    public string? UniqueKey { get; init; }

    /// <summary>The concurrency key, if any.</summary>
    public string? ConcurrencyKey { get; init; }

    /// <summary>The payload as JSON.</summary>
    public required string Payload { get; init; }
}
