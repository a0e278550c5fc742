using System;
using System.Collections.Generic;
using System.Threading;
using System.Threading.Tasks;

namespace ScaleOps.Resilience.Internal.RateLimiting;

/// <summary>
/// Tokens of one tenant taken from Redis ahead of need (leased mode) and spent locally until they expire. They were
/// already taken from the shared bucket, so spending them never exceeds the limit; expired ones are never spent here but
/// given back to the bucket (capped at its size) with the tenant's next round trip (<see cref="TakeExpired"/>), or when
/// the pool is swept (<see cref="TryDrop"/>), so that a long rule (per day) is not burnt by leases nobody used.
/// A rejection from Redis is also kept until its <c>Retry-After</c>: until then no token can exist, so the tenant's
/// requests are rejected here without a round trip (at most one round trip per instance per refill interval).
/// At most one batch is in flight per tenant and instance; callers who find the pool empty meanwhile wait for it and take
/// from it (<see cref="Enter"/>) instead of each making a round trip of their own.
/// Once <see cref="Close"/>d (the limiter stops leasing: the host stops, or it is disposed) or dropped as idle
/// (<see cref="TryDrop"/>) the pool leases nothing more and keeps nothing: a batch still in flight when it is closed is
/// refused by <see cref="Add"/>, so its leader gives its tokens back; none is ever in flight when it is dropped.
/// Tokens leased under a plan the tenant has left are given back to that plan's bucket (<see cref="Unspent"/>): each
/// plan has its own key, and the old one is still read by the instances whose plan cache still holds the old plan, and
/// again if the tenant comes back to it before the key expires (once full: up to a day for a daily rule).
/// Tokens that leave the pool to be given back in the background are counted in <paramref name="giveBacks"/> under
/// the pool's lock, so that a stop, which closes every pool afterwards, waits for them.
/// </summary>
internal sealed class LeasePool(long durationTicks, GiveBacks giveBacks)
{
    private readonly object _gate = new();
    private readonly List<Waiter> _waiters = [];
    private CompiledPlan? _plan;
    private int _tokens;
    private int _expired;
    private long _expiresAt;
    private long _lastRoundTrip = long.MinValue;
    private long _deniedUntil = long.MinValue;
    private int _deniedWant = int.MaxValue;
    private bool _batchInFlight;
    private bool _closed;
    private TaskCompletionSource? _batchEnded;
    private Decision _last;

    /// <summary>
    /// Spends <paramref name="permits"/> leased tokens if the pool holds them for <paramref name="plan"/>, or repeats a
    /// rejection whose <c>Retry-After</c> has not passed; <see langword="null"/>: ask Redis.
    /// </summary>
    public TenantLease? TryTake(CompiledPlan plan, int permits, long now, long frequency)
    {
        lock (_gate)
        {
            return TakeLocked(plan, permits, now, frequency);
        }
    }

    /// <summary>
    /// Called by a request the pool could not answer, before its round trip. While a batch is in flight and
    /// <paramref name="join"/> is set, queues the caller as a waiter of that batch (<see cref="BatchEntry.InFlight"/>)
    /// and records nothing. Otherwise records a round trip and, when the tenant is hot (its previous round trip was
    /// within the lease duration) and no batch is in flight, makes the caller the leader of a batch
    /// (<see cref="BatchEntry.Lead"/>): it leases up to the lease size and must then call <see cref="EndBatch"/>, after
    /// <see cref="Add"/> or <see cref="Deny"/>. So at most one batch is ever in flight or unspent here. A closed pool
    /// (also one the sweep dropped after the caller found it) answers neither: the caller makes a round trip of its own,
    /// for its own permits.
    /// </summary>
    public BatchEntry Enter(CompiledPlan plan, int permits, bool join, long now, CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            if (_closed)
            {
                return default;
            }

            if (_batchInFlight && join)
            {
                // Cancelled while it waits: its answer is the cancellation, and EndBatch then keeps its permits (below).
                var waiter = new Waiter(plan, permits, cancellationToken);
                waiter.Registration = cancellationToken.UnsafeRegister(
                    static (state, token) => ((Waiter)state!).Completion.TrySetCanceled(token), waiter);
                _waiters.Add(waiter);
                return new BatchEntry(false, waiter.Completion.Task);
            }

            var hot = _lastRoundTrip != long.MinValue && now - _lastRoundTrip < durationTicks;
            _lastRoundTrip = now;
            if (!hot || _batchInFlight)
            {
                return default;
            }

            _batchInFlight = true;
            return new BatchEntry(true, null);
        }
    }

    /// <summary>
    /// Ends the batch begun by <see cref="Enter"/> and answers its waiters, in the order they came, before any later
    /// request can take the batch's tokens: when <paramref name="failed"/> (Redis down, the breaker open) each gets
    /// <see cref="BatchResult.Failed"/> (the failure mode decides, as their own calls would have); otherwise Redis decided
    /// and each gets a lease from the tokens or the remembered rejection, or, when the batch is used up (or the leader was
    /// cancelled), no lease: it looks again. A waiter cancelled before it got its lease spends nothing: its permits go back
    /// to the pool in the same step (as the built-in limiters put back the permits of a queued request whose completion
    /// lost the race to its cancellation), so a cancelled <c>AcquireAsync</c> never consumes a permit.
    /// <paramref name="answering"/> (a test hook) runs once the waiters' leases are taken, before they are answered.
    /// </summary>
    public void EndBatch(bool failed, long now, long frequency, Action? answering = null)
    {
        TaskCompletionSource? ended;
        lock (_gate)
        {
            _batchInFlight = false;
            ended = _batchEnded;
            _batchEnded = null;
            var results = new BatchResult[_waiters.Count];
            for (var i = 0; i < results.Length; i++)
            {
                var waiter = _waiters[i];
                results[i] = failed ? new BatchResult(true, null)
                    : waiter.CancellationToken.IsCancellationRequested ? default // gone: leave the tokens to the others
                    : new BatchResult(false, TakeLocked(waiter.Plan, waiter.Permits, now, frequency));
            }

            answering?.Invoke();
            for (var i = 0; i < results.Length; i++)
            {
                // Answered under the lock (its continuation runs asynchronously), so that permits a cancellation won the
                // race for are back before anyone else takes from the pool.
                var waiter = _waiters[i];
                if (!waiter.Answer(results[i]) && results[i].Lease is { IsAcquired: true })
                {
                    _tokens += waiter.Permits;
                }
            }

            _waiters.Clear();
        }

        ended?.TrySetResult();
    }

    /// <summary>
    /// Closes the pool for good: answers every waiter now with no lease (a disposed limiter then answers them a failed
    /// lease; one that only stopped leasing lets them make their own round trip) and takes every unspent token, with the
    /// plan they were leased under, to be given back. <c>BatchInFlight</c> completes once the batch in flight, if any,
    /// has ended: its tokens, refused by <see cref="Add"/>, were given back by its leader before it ended the batch.
    /// </summary>
    public (CompiledPlan? Plan, int Tokens, Task? BatchInFlight) Close()
    {
        Waiter[] waiters;
        (CompiledPlan? Plan, int Tokens, Task? BatchInFlight) result;
        lock (_gate)
        {
            _closed = true;
            waiters = [.. _waiters];
            _waiters.Clear();
            result = (_plan, _tokens + _expired, _batchInFlight ? (_batchEnded ??= new(TaskCreationOptions.RunContinuationsAsynchronously)).Task : null);
            _tokens = 0;
            _expired = 0;
        }

        foreach (var waiter in waiters)
        {
            waiter.Answer(default);
        }

        return result;
    }

    /// <summary>
    /// Keeps <paramref name="extra"/> tokens granted beyond the request, valid for the lease duration; <see langword="false"/>
    /// when the pool was closed meanwhile: it keeps nothing, and the caller gives them back. <paramref name="replaced"/>:
    /// the tokens still held for another plan (see <see cref="Switch"/>), which the caller gives back in the background.
    /// </summary>
    public bool Add(CompiledPlan plan, int extra, Decision decision, long now, out Unspent replaced)
    {
        lock (_gate)
        {
            replaced = default;
            if (_closed)
            {
                return false;
            }

            replaced = Switch(plan);
            if (now >= _expiresAt)
            {
                _expired += _tokens; // given back with the next round trip
                _tokens = 0;
            }

            _plan = plan;
            _deniedUntil = long.MinValue;
            _deniedWant = int.MaxValue;
            _tokens += extra;
            _expiresAt = now + durationTicks;
            _last = decision;
            return true;
        }
    }

    /// <summary>
    /// Remembers a rejection of <paramref name="want"/> permits from Redis until its <c>Retry-After</c> has passed (one
    /// of fewer permits still in force is kept: it answers the more common, smaller requests). Returns the tokens still
    /// held for another plan (see <see cref="Switch"/>), which the caller gives back in the background.
    /// </summary>
    public Unspent Deny(CompiledPlan plan, int want, Decision decision, long now, long frequency)
    {
        lock (_gate)
        {
            var replaced = Switch(plan);

            // Tokens another concurrent round trip leased stay usable: only requests that find none are refused here.
            if (now < _deniedUntil && _deniedWant < want)
            {
                return replaced;
            }

            _plan = plan;
            _last = decision;
            _deniedUntil = now + (long)(decision.RetryAfter.TotalSeconds * frequency);
            _deniedWant = want;
            return replaced;
        }
    }

    private TenantLease? TakeLocked(CompiledPlan plan, int permits, long now, long frequency)
    {
        if (permits > 0 && ReferenceEquals(_plan, plan) && now < _expiresAt && _tokens >= permits)
        {
            _tokens -= permits;
            return new TenantLease(true, plan, _last with { Remaining = _last.Remaining + _tokens });
        }

        // A rejection of n permits answers requests of n until its Retry-After. A request of more is refused too, but
        // its Retry-After (more tokens to wait for) is not known here, and one of fewer may pass: both ask Redis.
        if (permits == _deniedWant && ReferenceEquals(_plan, plan) && now < _deniedUntil)
        {
            var wait = TimeSpan.FromSeconds((_deniedUntil - now) / (double)frequency);
            return new TenantLease(false, plan, _last with { RetryAfter = wait < TimeSpan.FromMilliseconds(1) ? TimeSpan.FromMilliseconds(1) : wait });
        }

        return null;
    }

    /// <summary>
    /// Takes the expired, unspent tokens leased for <paramref name="plan"/>, to be given back to the bucket with the
    /// caller's round trip. Tokens leased under another plan, expired or not, are <paramref name="replaced"/>: the caller
    /// gives them back to that plan's bucket in the background (see <see cref="Switch"/>).
    /// </summary>
    public int TakeExpired(CompiledPlan plan, long now, out Unspent replaced)
    {
        lock (_gate)
        {
            replaced = Switch(plan);
            var expired = _expired;
            _expired = 0;
            if (now >= _expiresAt)
            {
                expired += _tokens;
                _tokens = 0;
            }

            return expired;
        }
    }

    /// <summary>
    /// Makes <paramref name="plan"/> the pool's plan. The tenant changed plans (or two requests raced with the old and the
    /// new): the tokens held for the old plan cannot be spent under the new one, and were taken from the old plan's key,
    /// <c>{prefix}{{tenant}}:{old plan}</c>, which is still read: by instances whose plan cache still holds the old plan
    /// (for up to <c>PlanCacheDuration</c>), and by this tenant if it comes back to that plan before the key expires
    /// (when every bucket is full again: up to a day for a daily rule). Dropping them left that bucket short for the rest
    /// of its window, so they are returned to be given back to it (counted in flight: see <see cref="GiveBacks"/>), and
    /// the old plan's remembered rejection is forgotten.
    /// </summary>
    private Unspent Switch(CompiledPlan plan)
    {
        if (ReferenceEquals(_plan, plan) || _plan is null)
        {
            return default;
        }

        var replaced = new Unspent(_plan, _tokens + _expired);
        _plan = plan;
        _tokens = 0;
        _expired = 0;
        _deniedUntil = long.MinValue;
        _deniedWant = int.MaxValue;
        if (replaced.Tokens == 0)
        {
            return default;
        }

        giveBacks.Expect();
        return replaced;
    }

    /// <summary>
    /// Closes the pool if it is idle long enough to be swept away: no batch in flight, its tokens expired, and no round
    /// trip for a lease duration. Checked and closed in one step, so a request that found the pool before the sweep and
    /// enters it after leases no batch into it (<see cref="Enter"/> refuses it: it makes a round trip of its own), and none
    /// can begin between the check and the drop: a pool nobody finds any more never receives tokens nobody would spend or
    /// give back. <c>Dropped</c>: the caller removes it, and gives back its unspent tokens, leased under <c>Plan</c>, in the
    /// background (counted in flight when there are any: see <see cref="GiveBacks"/>).
    /// </summary>
    public (bool Dropped, CompiledPlan? Plan, int Tokens) TryDrop(long now)
    {
        lock (_gate)
        {
            if (_closed || _batchInFlight || now < _expiresAt || (_lastRoundTrip != long.MinValue && now - _lastRoundTrip < durationTicks))
            {
                return default;
            }

            _closed = true;
            var tokens = _tokens + _expired;
            _tokens = 0;
            _expired = 0;
            if (_plan is not null && tokens > 0)
            {
                giveBacks.Expect(); // in flight from now: a stop waits for it
            }

            return (true, _plan, tokens);
        }
    }

    /// <summary>What <see cref="Enter"/> answered.</summary>
    /// <param name="Lead">The caller leases a batch (and must end it).</param>
    /// <param name="InFlight">The answer of the batch in flight the caller waits for, or <see langword="null"/>.</param>
    internal readonly record struct BatchEntry(bool Lead, Task<BatchResult>? InFlight);

    /// <summary>A waiter's answer from the batch it waited for.</summary>
    /// <param name="Failed">The batch's call failed: decide by the failure mode.</param>
    /// <param name="Lease">The lease taken from the batch (or its rejection); <see langword="null"/>: look again.</param>
    internal readonly record struct BatchResult(bool Failed, TenantLease? Lease);

    /// <summary>Unspent leased tokens and the plan they were leased under, to be given back to that plan's bucket.</summary>
    internal readonly record struct Unspent(CompiledPlan? Plan, int Tokens);

    private sealed class Waiter(CompiledPlan plan, int permits, CancellationToken cancellationToken)
    {
        public CompiledPlan Plan { get; } = plan;

        public int Permits { get; } = permits;

        public CancellationToken CancellationToken { get; } = cancellationToken;

        public TaskCompletionSource<BatchResult> Completion { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public CancellationTokenRegistration Registration { get; set; }

        /// <summary>Answers the waiter; <see langword="false"/> when it was cancelled first.</summary>
        public bool Answer(BatchResult result)
        {
            var answered = Completion.TrySetResult(result);
            Registration.Unregister();
            return answered;
        }
    }
}
