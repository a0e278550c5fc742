using System;
using System.Collections.Generic;
using System.Threading;

namespace ScaleOps.Jobs.Internal;

/// <summary>A job the fetch started: everything the executor needs.</summary>
internal sealed record FetchedJob(
    long Id, string Queue, string Kind, string TenantId, string Payload, int Attempt, int MaxAttempts, int? TimeoutMs,
    DateTimeOffset RunAt, DateTimeOffset CreatedAt, long LeaseId)
{
    private int _settled;

    /// <summary>Claims the right to record this attempt's outcome: the executor's or the stalled-start watchdog's, once.</summary>
    /// <returns>Whether the caller is the first.</returns>
    public bool TrySettle() => Interlocked.Exchange(ref _settled, 1) == 0;
}

/// <summary>
/// What one fetch started, and where its tenant scan ended: the next fetch starts after <paramref name="NextCursor"/>
/// (null = from the first tenant; '' = after the jobs without a tenant, which sort first); <paramref name="More"/> when the scan stopped before it had looked at every tenant with
/// due jobs; <paramref name="PassedOver"/> tenants with due jobs got none because of their cap or a key limit.
/// </summary>
internal sealed record FetchResult(List<FetchedJob> Jobs, string? NextCursor, bool More, int PassedOver);

/// <summary>The values of one insert, already validated and defaulted.</summary>
internal sealed record JobInsertValues(
    string Queue, string Kind, string TenantId, short Priority, DateTimeOffset RunAt, int MaxAttempts, int? TimeoutMs,
    string? UniqueKey, string? ConcurrencyKey, int? ConcurrencyLimit);

/// <summary>How an attempt ended.</summary>
internal enum CompletionKind
{
    Succeeded,
    Retry,
    Dead,
}

/// <summary>
/// The outcome of one attempt, waiting in the completer's batch; written only while the lease is still the job's.
/// <paramref name="JobKind"/> tags its metrics.
/// </summary>
internal readonly record struct Completion(
    long Id, long LeaseId, int Attempt, CompletionKind Kind, string? Error, DateTimeOffset RetryAt, string Queue = "", string JobKind = "");

/// <summary>
/// A job that a worker holds: the (id, lease id) pair is its lease token. The lease id moves forward at every fetch and
/// never back (unlike the attempt, which a release uncounts and a retry of a dead job resets), so a token is never
/// handed out twice.
/// </summary>
internal readonly record struct LeaseToken(long Id, long LeaseId);

/// <summary>What the rescuer did to the expired leases of one queue and kind: re-queued or made dead.</summary>
internal sealed record RescuedJobs(string Queue, string Kind, int Requeued, int Dead);
