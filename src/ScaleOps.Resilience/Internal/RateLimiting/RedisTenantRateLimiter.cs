using System;
using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using System.Threading;
using System.Threading.RateLimiting;
using System.Threading.Tasks;
using Microsoft.Extensions.Logging;
using Polly;
using Polly.CircuitBreaker;
using ScaleOps.Resilience.CircuitBreakers;
using ScaleOps.Tenancy;
using ScaleOps.Resilience.RateLimiting;
using StackExchange.Redis;

namespace ScaleOps.Resilience.Internal.RateLimiting;

/// <summary>
/// The distributed tenant limiter: one <c>EVALSHA</c> of <c>token_bucket.lua</c> per decision, so every instance
/// shares each tenant's buckets; optional leased mode for hot tenants; behind the <c>redis</c> circuit breaker with a
/// configured fail-open, fail-closed or local decision while Redis is unreachable.
/// </summary>
internal sealed partial class RedisTenantRateLimiter : PartitionedRateLimiter<TenantId>
{
    /// <summary>How many batches in flight a request waits for before it makes its own round trip.</summary>
    private const int MaxBatchJoins = 3;

    private readonly PlanCatalog _plans;
    private readonly RedisConnection _redis;
    private readonly CircuitBreakerRegistry _breakers;
    private readonly ResiliencePipeline _pipeline;
    private readonly CircuitBreakerStateProvider _redisState;
    private readonly LocalTenantRateLimiter _fallback;
    private readonly RateLimitingOptions _options;
    private readonly TimeSpan _breakDuration;
    private readonly TimeProvider _time;
    private readonly ResilienceMetrics _metrics;
    private readonly ILogger _logger;
    private readonly ConcurrentDictionary<TenantId, LeasePool> _pools = new();
    private readonly ConcurrentDictionary<TenantId, TenantKey> _keys = new();
    private readonly GiveBacks _giveBacks = new();
    private readonly long _leaseTicks;
    private long _nextSweep;
    private int _disposed;
    private int _leasing;

    public RedisTenantRateLimiter(
        PlanCatalog plans,
        RedisConnection redis,
        CircuitBreakerRegistry breakers,
        ResilienceOptions options,
        TimeProvider time,
        ResilienceMetrics metrics,
        ILogger<RedisTenantRateLimiter> logger)
    {
        _plans = plans;
        _redis = redis;
        _breakers = breakers;
        _pipeline = breakers.GetBreakerPipeline(CircuitBreakerNames.Redis); // never retried: a decision takes tokens
        _redisState = breakers.GetStateProvider(CircuitBreakerNames.Redis);
        _options = options.RateLimiting;
        _breakDuration = options.CircuitBreakers[CircuitBreakerNames.Redis].BreakDuration;
        _time = time;
        _metrics = metrics;
        _logger = logger;
        _fallback = new LocalTenantRateLimiter(plans, time, metrics, source: "fallback");
        _leaseTicks = (long)(_options.LeaseDuration.TotalSeconds * time.TimestampFrequency);
        _leasing = _options.LeaseSize > 1 ? 1 : 0;
        _nextKeySweep = time.GetTimestamp() + (long)(KeySweepInterval.TotalSeconds * time.TimestampFrequency);
    }

    /// <summary>
    /// Test hook: called when a request has found its tenant's lease pool, before it takes from it or leases a batch (a
    /// request preempted there, holding the pool, while other requests run).
    /// </summary>
    internal Action<TenantId>? PoolFound { get; set; }

    /// <summary>
    /// Test hook: called when a batch ends, once its waiters' leases are taken from it and before they get them (a waiter
    /// cancelled at that moment).
    /// </summary>
    internal Action<TenantId>? WaitersAnswering { get; set; }

    /// <summary>Tenants with a lease pool on this instance (tests check the sweep bounds it).</summary>
    internal int PoolCount => _pools.Count;

    /// <summary>Tenants whose script keys are cached (bounded by <c>MaxCachedKeys</c>).</summary>
    internal int CachedKeyCount => _keys.Count;

    /// <summary>The local fallback's state (tests check its sweep).</summary>
    internal LocalTenantRateLimiter FallbackLimiter => _fallback;

    /// <summary>Leased mode, until the host stops or the limiter is disposed (<see cref="CloseLeases"/>).</summary>
    private bool Leasing => Volatile.Read(ref _leasing) != 0;

    public override RateLimiterStatistics? GetStatistics(TenantId resource) => null;

    /// <summary>
    /// Never waits on Redis: answers from locally leased tokens, or by the failure mode while the breaker is broken
    /// (isolated, or open within its break duration), or else "undecided" (not acquired, no metadata) so that the caller
    /// goes on to <c>AcquireAsync</c>, which decides. Once the break is over the answer is "undecided" although the breaker
    /// still reads Open: Polly half-opens it only inside a call, and <c>AcquireAsync</c> is that call (the trial). Were
    /// the failure mode to answer then, a fail-open limiter would admit everything here and never try Redis again.
    /// </summary>
    protected override RateLimitLease AttemptAcquireCore(TenantId resource, int permitCount)
    {
        ThrowIfDisposed();
        PermitCheck.Tenant(resource);
        var plan = _plans.TryGetCached(resource);
        if (plan is null)
        {
            return TenantLease.Undecided;
        }

        PermitCheck.Validate(plan, permitCount);
        if (Leasing && _pools.TryGetValue(resource, out var pool) && pool.TryTake(plan, permitCount, _time.GetTimestamp(), _time.TimestampFrequency) is { } leased)
        {
            _metrics.Decision(plan.Name, leased.IsAcquired, "lease");
            return leased;
        }

        return _breakers.IsBroken(CircuitBreakerNames.Redis) ? Fallback(resource, plan, permitCount, null) : TenantLease.Undecided;
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    protected override async ValueTask<RateLimitLease> AcquireAsyncCore(TenantId resource, int permitCount, CancellationToken cancellationToken)
    {
        ThrowIfDisposed();
        PermitCheck.Tenant(resource);
        var plan = _plans.TryGetCached(resource) ?? await _plans.GetAsync(resource, cancellationToken).ConfigureAwait(false);
        PermitCheck.Validate(plan, permitCount);
        var now = _time.GetTimestamp();
        SweepKeysIfDue(now);
        var max = permitCount;
        var givenBack = 0;
        LeasePool? pool = null;
        var batch = false;
        if (permitCount > 0 && PoolOf(resource) is { } leasePool)
        {
            pool = leasePool;
            PoolFound?.Invoke(resource);
            for (var joined = 0; ; joined++)
            {
                if (pool.TryTake(plan, permitCount, now, _time.TimestampFrequency) is { } leased)
                {
                    _metrics.Decision(plan.Name, leased.IsAcquired, "lease");
                    return leased;
                }

                var entry = pool.Enter(plan, permitCount, joined < MaxBatchJoins, now, cancellationToken);
                if (entry.InFlight is { } inFlight)
                {
                    // Another request of this tenant is leasing a batch: wait for it (one round trip) rather than make a
                    // round trip too. Its waiters are answered from it first, in order. A failed batch (Redis down) sends
                    // them to the failure mode, as their own calls would have; one used up before their turn is joined
                    // again, at most MaxBatchJoins times, after which the request makes its own round trip.
                    // Cancelled while waiting: throws, and the waiter spent nothing (LeasePool.EndBatch).
                    var result = await inFlight.ConfigureAwait(false);
                    if (result.Lease is { } fromBatch)
                    {
                        _metrics.Decision(plan.Name, fromBatch.IsAcquired, "lease");
                        return fromBatch; // its permits were taken for it: returned even if disposed or cancelled since
                    }

                    if (Volatile.Read(ref _disposed) != 0)
                    {
                        return TenantLease.Undecided; // disposed meanwhile: a failed lease, as the built-in limiters answer their queue
                    }

                    if (result.Failed)
                    {
                        return Fallback(resource, plan, permitCount, null);
                    }

                    cancellationToken.ThrowIfCancellationRequested(); // nothing spent yet: a cancelled caller looks no further
                    now = _time.GetTimestamp();
                    continue;
                }

                if (entry.Lead)
                {
                    batch = true;
                    max = Math.Max(permitCount, Math.Min(_options.LeaseSize, plan.MinCapacity));
                }

                break;
            }

            givenBack = pool.TakeExpired(plan, now, out var replaced); // unused leased tokens go back to the bucket with this call
            GiveBackLater(resource, replaced); // those leased under the plan the tenant left, to that plan's bucket
            MaybeSweep(now);
        }

        var failed = false;
        try
        {
            // No "is the breaker open" shortcut here: Polly moves an open breaker to half-open only when a call is tried.
            var outcome = await EvaluateAsync(resource, plan, permitCount, max, givenBack, cancellationToken).ConfigureAwait(false);
            if (outcome.Exception is { } exception)
            {
                cancellationToken.ThrowIfCancellationRequested();
                failed = true;
                return Fallback(resource, plan, permitCount, exception is BrokenCircuitException ? null : exception);
            }

            var decision = ToDecision((RedisResult)outcome.Result!);
            if (_options.RedisFailureMode == RedisFailureMode.Local)
            {
                _fallback.SweepIfDue(); // Redis decides again: the fallback's idle tenants are swept from here
            }

            var admitted = permitCount == 0 ? decision.Remaining > 0 : decision.Granted > 0;
            _metrics.Decision(plan.Name, admitted, "redis");
            if (pool is not null && !admitted)
            {
                GiveBackLater(resource, pool.Deny(plan, permitCount, decision, now, _time.TimestampFrequency));
            }
            else if (pool is not null && decision.Granted > permitCount)
            {
                var extra = decision.Granted - permitCount;
                var kept = pool.Add(plan, extra, decision, now, out var replaced);
                GiveBackLater(resource, replaced);
                if (!kept)
                {
                    // Leasing stopped (the host stops, or the limiter was disposed) while the batch was in flight: nobody
                    // would spend the tokens, so they go back now, before the batch ends (a dispose waits for that).
                    await GiveBackAsync(resource, plan, extra).ConfigureAwait(false);
                }

                decision = decision with { Remaining = decision.Remaining + extra };
            }

            return new TenantLease(admitted, plan, decision);
        }
        finally
        {
            if (batch)
            {
                // After Add or Deny: the waiters get the tokens or the rejection.
                var answering = WaitersAnswering is { } hook ? () => hook(resource) : (Action?)null;
                pool!.EndBatch(failed, _time.GetTimestamp(), _time.TimestampFrequency, answering);
            }
        }
    }

    private TenantLease Fallback(TenantId tenant, CompiledPlan plan, int permitCount, Exception? exception)
    {
        var mode = _options.RedisFailureMode;
        if (exception is not null)
        {
            Log.RedisLimiterFailed(_logger, tenant.ToString(), mode.ToString(), exception);
        }

        switch (mode)
        {
            case RedisFailureMode.FailOpen:
                _metrics.Decision(plan.Name, true, "fail_open");
                return TenantLease.OpenWithoutDecision;
            case RedisFailureMode.FailClosed:
                _metrics.Decision(plan.Name, false, "fail_closed");
                return TenantLease.Closed(_breakDuration);
            default:
                return _fallback.Decide(tenant, plan, permitCount);
        }
    }

    /// <summary>
    /// The tenant's lease pool, or <see langword="null"/> once leasing has stopped. Leasing is read again after the pool is
    /// in the dictionary: <see cref="CloseLeases"/> clears the flag before it closes the pools it finds, so a pool added
    /// while it runs is either found and closed by it or not used here.
    /// </summary>
    private LeasePool? PoolOf(TenantId tenant)
    {
        if (!Leasing)
        {
            return null;
        }

        var pool = _pools.GetOrAdd(
            tenant, static (_, state) => new LeasePool(state.Ticks, state.GiveBacks), (Ticks: _leaseTicks, GiveBacks: _giveBacks));
        return Leasing ? pool : null;
    }

    private void ThrowIfDisposed() => ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);

    private void MaybeSweep(long now)
    {
        var next = Interlocked.Read(ref _nextSweep);
        if (now < next || Interlocked.CompareExchange(ref _nextSweep, now + (10 * _leaseTicks), next) != next)
        {
            return;
        }

        foreach (var pair in _pools)
        {
            // Closed as it is found idle: a request that still holds it leases nothing into it (see TryDrop). Its tokens are
            // given back in the background, counted in flight: a stop waits for them, and a failure is logged as lost.
            if (pair.Value.TryDrop(now) is (true, var plan, var tokens))
            {
                _pools.TryRemove(pair);
                GiveBackLater(pair.Key, new LeasePool.Unspent(plan, tokens));
            }
        }
    }
}
