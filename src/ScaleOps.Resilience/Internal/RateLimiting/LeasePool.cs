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
    private Decision _last;

    /// <summary>
    /// Spends <paramref name="permits"/> leased tokens if the pool holds them for <paramref name="plan"/>, or repeats a
    /// rejection whose <c>Retry-After</c> has not passed; <see langword="null"/>: ask Redis.
    /// </summary>
    public TenantLease? TryTake(CompiledPlan plan, int permits, long now, long frequency)
    {
        lock (_gate)
        {
            if (ReferenceEquals(_plan, plan) && now < _deniedUntil && permits == 1)
            {
                var wait = TimeSpan.FromSeconds((_deniedUntil - now) / (double)frequency);
                return new TenantLease(false, plan, _last with { RetryAfter = wait < TimeSpan.FromMilliseconds(1) ? TimeSpan.FromMilliseconds(1) : wait });
            }

            if (permits <= 0 || !ReferenceEquals(_plan, plan) || now >= _expiresAt || _tokens < permits)
            {
                return null;
            }

            _tokens -= permits;
            return new TenantLease(true, plan, _last with { Remaining = _last.Remaining + _tokens });
        }
    }

    /// <summary>Records a round trip; answers whether the tenant is hot (its previous round trip was within the lease duration).</summary>
    public bool RoundTrip(long now)
    {
        lock (_gate)
        {
            var hot = _lastRoundTrip != long.MinValue && now - _lastRoundTrip < durationTicks;
            _lastRoundTrip = now;
            return hot;
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
            _plan = plan;
            _tokens = 0;
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
