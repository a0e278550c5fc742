using System;

namespace ScaleOps.Resilience.Internal.RateLimiting;

/// <summary>
/// Tokens of one tenant taken from Redis ahead of need (leased mode) and spent locally until they expire. They were
/// already taken from the shared bucket, so spending them never exceeds the limit; expired ones are simply lost.
/// A rejection from Redis is also kept until its <c>Retry-After</c>: until then no token can exist, so the tenant's
/// requests are rejected here without a round trip (at most one round trip per instance per refill interval).
/// </summary>
internal sealed class LeasePool(long durationTicks)
{
    private readonly object _gate = new();
    private CompiledPlan? _plan;
    private int _tokens;
    private long _expiresAt;
    private long _lastRoundTrip = long.MinValue;
    private long _deniedUntil = long.MinValue;
    private bool _batchInFlight;
    private Decision _last;

    /// <summary>
    /// Spends <paramref name="permits"/> leased tokens if the pool holds them for <paramref name="plan"/>, or repeats a
    /// rejection whose <c>Retry-After</c> has not passed; <see langword="null"/>: ask Redis.
    /// </summary>
    public TenantLease? TryTake(CompiledPlan plan, int permits, long now, long frequency)
    {
        lock (_gate)
        {
            if (permits > 0 && ReferenceEquals(_plan, plan) && now < _expiresAt && _tokens >= permits)
            {
                _tokens -= permits;
                return new TenantLease(true, plan, _last with { Remaining = _last.Remaining + _tokens });
            }

            if (permits == 1 && ReferenceEquals(_plan, plan) && now < _deniedUntil)
            {
                var wait = TimeSpan.FromSeconds((_deniedUntil - now) / (double)frequency);
                return new TenantLease(false, plan, _last with { RetryAfter = wait < TimeSpan.FromMilliseconds(1) ? TimeSpan.FromMilliseconds(1) : wait });
            }

            return null;
        }
    }

    /// <summary>
    /// Records a round trip; answers whether it may lease a batch: the tenant is hot (its previous round trip was within
    /// the lease duration) and no other batch is in flight on this instance, so at most one batch is ever unspent here.
    /// A <see langword="true"/> answer must be followed by <see cref="EndBatch"/>.
    /// </summary>
    public bool TryBeginBatch(long now)
    {
        lock (_gate)
        {
            var hot = _lastRoundTrip != long.MinValue && now - _lastRoundTrip < durationTicks;
            _lastRoundTrip = now;
            if (!hot || _batchInFlight)
            {
                return false;
            }

            _batchInFlight = true;
            return true;
        }
    }

    /// <summary>Ends the batch begun by <see cref="TryBeginBatch"/>.</summary>
    public void EndBatch()
    {
        lock (_gate)
        {
            _batchInFlight = false;
        }
    }

    /// <summary>Keeps <paramref name="extra"/> tokens granted beyond the request, valid for the lease duration.</summary>
    public void Add(CompiledPlan plan, int extra, Decision decision, long now)
    {
        lock (_gate)
        {
            if (!ReferenceEquals(_plan, plan) || now >= _expiresAt)
            {
                _tokens = 0;
            }

            _plan = plan;
            _deniedUntil = long.MinValue;
            _tokens += extra;
            _expiresAt = now + durationTicks;
            _last = decision;
        }
    }

    /// <summary>Remembers a rejection from Redis until its <c>Retry-After</c> has passed.</summary>
    public void Deny(CompiledPlan plan, Decision decision, long now, long frequency)
    {
        lock (_gate)
        {
            if (!ReferenceEquals(_plan, plan))
            {
                _tokens = 0; // the tenant changed plans
            }

            // Tokens another concurrent round trip leased stay usable: only requests that find none are refused here.
            _plan = plan;
            _last = decision;
            _deniedUntil = now + (long)(decision.RetryAfter.TotalSeconds * frequency);
        }
    }

    /// <summary>Whether the pool is idle and empty long enough to be dropped.</summary>
    public bool IsIdle(long now)
    {
        lock (_gate)
        {
            return now >= _expiresAt && (_lastRoundTrip == long.MinValue || now - _lastRoundTrip >= durationTicks);
        }
    }
}
