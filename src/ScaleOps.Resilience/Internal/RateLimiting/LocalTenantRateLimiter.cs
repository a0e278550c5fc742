using System;
using System.Collections.Concurrent;
using System.Threading;
using System.Threading.RateLimiting;
using System.Threading.Tasks;
using ScaleOps.Tenancy;

namespace ScaleOps.Resilience.Internal.RateLimiting;

/// <summary>
/// The in-process tenant limiter: stacked token buckets per tenant, decided under one lock. A tenant's state is dropped
/// once all its buckets are full again (it then equals a fresh state), swept at most every few seconds on the call path.
/// </summary>
internal sealed class LocalTenantRateLimiter : PartitionedRateLimiter<TenantId>
{
    private static readonly TimeSpan SweepInterval = TimeSpan.FromSeconds(10);

    private readonly ConcurrentDictionary<TenantId, TokenBuckets> _buckets = new();
    private readonly PlanCatalog _plans;
    private readonly TimeProvider _time;
    private readonly ResilienceMetrics _metrics;
    private readonly string _source;
    private long _nextSweep;
    private int _sweeping;
    private int _disposed;

    public LocalTenantRateLimiter(PlanCatalog plans, TimeProvider time, ResilienceMetrics metrics, string source = "local")
    {
        _plans = plans;
        _time = time;
        _metrics = metrics;
        _source = source;
        _nextSweep = time.GetTimestamp() + (long)(SweepInterval.TotalSeconds * time.TimestampFrequency);
    }

    /// <summary>The number of tenants with state in memory (for tests).</summary>
    internal int TenantCount => _buckets.Count;

    public override RateLimiterStatistics? GetStatistics(TenantId resource)
    {
        if (!_buckets.TryGetValue(resource, out var buckets))
        {
            return null;
        }

        var peek = buckets.Take(NowMs(), 0, 0);
        return new RateLimiterStatistics { CurrentAvailablePermits = peek.Remaining };
    }

    /// <summary>Decides now when the tenant's plan is known; otherwise answers "undecided" (call <c>AcquireAsync</c>).</summary>
    protected override RateLimitLease AttemptAcquireCore(TenantId resource, int permitCount)
    {
        ThrowIfDisposed();
        PermitCheck.Tenant(resource);
        var plan = _plans.TryGetCached(resource);
        return plan is null ? TenantLease.Undecided : Decide(resource, plan, permitCount);
    }

    protected override ValueTask<RateLimitLease> AcquireAsyncCore(TenantId resource, int permitCount, CancellationToken cancellationToken)
    {
        ThrowIfDisposed();
        PermitCheck.Tenant(resource);
        var plan = _plans.TryGetCached(resource);
        return plan is not null
            ? new ValueTask<RateLimitLease>(Decide(resource, plan, permitCount))
            : Slow(resource, permitCount, cancellationToken);

        async ValueTask<RateLimitLease> Slow(TenantId tenant, int permits, CancellationToken ct) =>
            Decide(tenant, await _plans.GetAsync(tenant, ct).ConfigureAwait(false), permits);
    }

    /// <summary>Decides for <paramref name="plan"/>; shared with the Redis limiter's local fallback.</summary>
    internal TenantLease Decide(TenantId tenant, CompiledPlan plan, int permitCount)
    {
        PermitCheck.Validate(plan, permitCount);
        var now = NowMs();
        while (true)
        {
            var buckets = _buckets.GetOrAdd(tenant, static (_, state) => new TokenBuckets(state.plan, state.now), (plan, now));
            if (!ReferenceEquals(buckets.Plan, plan))
            {
                _buckets.TryUpdate(tenant, new TokenBuckets(plan, now), buckets); // the tenant changed plans: start afresh
                continue;
            }

            var decision = buckets.Take(now, permitCount, permitCount);
            if (decision.Granted < 0)
            {
                continue; // swept away meanwhile: take a fresh state
            }

            MaybeSweep(now);
            var admitted = permitCount == 0 ? decision.Remaining > 0 : decision.Granted > 0;
            _metrics.Decision(plan.Name, admitted, _source);
            return new TenantLease(admitted, plan, decision);
        }
    }

    /// <summary>
    /// Drops the state of tenants whose buckets are full again, if a sweep is due: for the Redis limiter's fallback, whose
    /// <see cref="Decide"/> is no longer called once Redis is back, so its idle tenants would otherwise be held for good.
    /// Cheap when no sweep is due (a clock read and a comparison).
    /// </summary>
    internal void SweepIfDue()
    {
        if (_time.GetTimestamp() >= Interlocked.Read(ref _nextSweep))
        {
            MaybeSweep(NowMs());
        }
    }

    /// <summary>Marks the limiter disposed (later calls throw, as the built-in limiters do) and drops its state.</summary>
    protected override void Dispose(bool disposing)
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 0)
        {
            _buckets.Clear();
        }
    }

    private void ThrowIfDisposed() => ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);

    private double NowMs() => _time.GetTimestamp() * 1000d / _time.TimestampFrequency;

    private void MaybeSweep(double nowMs)
    {
        var now = _time.GetTimestamp();
        if (now < Interlocked.Read(ref _nextSweep) || Interlocked.Exchange(ref _sweeping, 1) == 1)
        {
            return;
        }

        try
        {
            Interlocked.Exchange(ref _nextSweep, now + (long)(SweepInterval.TotalSeconds * _time.TimestampFrequency));
            foreach (var pair in _buckets)
            {
                if (pair.Value.TryRetire(nowMs))
                {
                    _buckets.TryRemove(pair);
                }
            }
        }
        finally
        {
            Volatile.Write(ref _sweeping, 0);
        }
    }
}
