using System;
using System.Collections.Generic;
using System.Threading;

namespace ScaleOps.Jobs.Internal;

/// <summary>A job the fetch started: everything the executor needs.</summary>
internal sealed record FetchedJob(
    long Id, string Queue, string Kind, string TenantId, string Payload, int Attempt, int MaxAttempts, int? TimeoutMs,
    DateTimeOffset RunAt, DateTimeOffset CreatedAt, long LeaseId)
{
    /// <summary>The executor's mark in <see cref="_settled"/>: it settled the attempt (no allocation per job).</summary>
    private static readonly object SettledByRun = new();

    private object? _settled; // null, SettledByRun, or the watchdog's boxed Completion
    private int _leaseLost;
    private int _writing;
    private int _stoppedFirst;
    private long _handlerSince;
    private CancellationTokenSource? _run;

    /// <summary>
    /// While the handler's own code runs before returning its task: when (<see cref="Environment.TickCount64"/>) it was
    /// called; 0 before, -1 after. The stalled-start watchdog reports only what the handler held, not the worker's steps
    /// around it (the payload's deserialization, the handler's resolution: a cold start's JIT, metadata and DI).
    /// </summary>
    public long HandlerSince => Volatile.Read(ref _handlerSince);

    /// <summary>The worker calls the handler's code now (<see cref="HandlerSince"/>).</summary>
    public void EnterHandler() => Volatile.Write(ref _handlerSince, Math.Max(1, Environment.TickCount64));

    /// <summary>The handler's code returned its task, or threw (<see cref="HandlerSince"/>).</summary>
    public void LeaveHandler() => Volatile.Write(ref _handlerSince, -1);

    /// <summary>Whether the completer's statement is writing this attempt's outcome (<see cref="LeaseRegistry.SetWriting"/>).</summary>
    public bool Writing
    {
        get => Volatile.Read(ref _writing) == 1;
        set => Volatile.Write(ref _writing, value ? 1 : 0);
    }

    /// <summary>Whether this attempt's outcome was claimed (<see cref="TrySettle()"/>).</summary>
    public bool IsSettled => Volatile.Read(ref _settled) is not null;

    /// <summary>The outcome the stalled-start watchdog wrote for this attempt (<see cref="TrySettle(Completion)"/>), if it settled it.</summary>
    public Completion? Abandoned => Volatile.Read(ref _settled) is Completion abandoned ? abandoned : null;

    /// <summary>Whether a heartbeat found the lease gone (the job rescued or given back): the run is no longer this job's.</summary>
    public bool LeaseLost => Volatile.Read(ref _leaseLost) == 1;

    /// <summary>Claims the right to record this attempt's outcome: the executor's or the stalled-start watchdog's, once.</summary>
    /// <returns>Whether the caller is the first.</returns>
    public bool TrySettle() => Interlocked.CompareExchange(ref _settled, SettledByRun, null) is null;

    /// <summary>
    /// The watchdog's claim, with the outcome it writes: a run that returns later traces that outcome (<see cref="Abandoned"/>),
    /// not its own.
    /// </summary>
    /// <returns>Whether the watchdog is the first.</returns>
    public bool TrySettle(Completion abandoned) => Interlocked.CompareExchange(ref _settled, abandoned, null) is null;

    /// <summary>
    /// While the handler runs: the source linked into its token (the executor's timeout source, so this costs no
    /// allocation), which <see cref="LoseLease"/> cancels. Null: the run is over.
    /// </summary>
    public void AttachRun(CancellationTokenSource? run)
    {
        Volatile.Write(ref _run, run);
        if (run is not null && LeaseLost)
        {
            CancelRun();
        }
    }

    /// <summary>
    /// Whether the run's token fired for the stop before the job's own timeout (or a lost lease) fired: the attempt is
    /// then given back uncounted whatever fires while its handler winds down (<see cref="NoteStopped"/>).
    /// </summary>
    public bool StoppedFirst => Volatile.Read(ref _stoppedFirst) == 1;

    /// <summary>
    /// Called when the stop fires during the run: the run's own source (<see cref="AttachRun"/>, the timeout's, which a
    /// lost lease cancels too) not cancelled yet means the stop fired first.
    /// </summary>
    public void NoteStopped()
    {
        if (Volatile.Read(ref _run) is { IsCancellationRequested: false })
        {
            Volatile.Write(ref _stoppedFirst, 1);
        }
    }

    /// <summary>The lease is gone: cancels the run's token (on the thread pool, so the caller never runs the handler's continuations).</summary>
    public void LoseLease()
    {
        Volatile.Write(ref _leaseLost, 1);
        CancelRun();
    }

    private void CancelRun()
    {
        try
        {
            _ = Volatile.Read(ref _run)?.CancelAsync();
        }
        catch (ObjectDisposedException)
        {
            // The run ended meanwhile.
        }
    }
}

/// <summary>
/// What one fetch started, and where its tenant scan ended: the next fetch starts after <paramref name="NextCursor"/>
/// (null = from the first tenant; '' = after the jobs without a tenant, which sort first); <paramref name="More"/> when the scan stopped before it had looked at every tenant with
/// due jobs; <paramref name="PassedOver"/> tenants with due jobs got none because of their cap or a key limit.
/// </summary>
internal sealed record FetchResult(List<FetchedJob> Jobs, string? NextCursor, bool More, int PassedOver);

/// <summary>
/// The values of one insert, already validated and defaulted. <paramref name="RunNow"/>: no <c>RunAt</c> and no (or a
/// zero) <c>Delay</c>; <paramref name="RunAt"/> is then the host's now, and the statements store the earlier of it and
/// the database's clock, so a host whose clock runs ahead does not make a job to run now wait for the others.
/// </summary>
internal sealed record JobInsertValues(
    string Queue, string Kind, string TenantId, short Priority, DateTimeOffset RunAt, int MaxAttempts, int? TimeoutMs,
    string? UniqueKey, string? ConcurrencyKey, int? ConcurrencyLimit, bool RunNow = false);

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
