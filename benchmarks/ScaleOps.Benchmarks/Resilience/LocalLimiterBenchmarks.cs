using System;
using System.Threading.RateLimiting;
using System.Threading.Tasks;
using BenchmarkDotNet.Attributes;
using Microsoft.Extensions.DependencyInjection;
using ScaleOps.Resilience.RateLimiting;
using ScaleOps.Tenancy;

namespace ScaleOps.Benchmarks.Resilience;

/// <summary>
/// One admitted decision of the local tenant limiter (stacked per-second and per-day buckets) over 1,000 tenants,
/// against System.Threading.RateLimiting alone: a <see cref="PartitionedRateLimiter"/> of one token bucket per tenant.
/// </summary>
[MemoryDiagnoser]
[MedianColumn, MinColumn, MaxColumn]
public class LocalLimiterBenchmarks
{
    private readonly TenantId[] _tenants = new TenantId[1000];
    private PartitionedRateLimiter<TenantId> _peer = null!;
    private PartitionedRateLimiter<TenantId> _scaleOps = null!;
    private ServiceProvider _services = null!;
    private int _next;

    [GlobalSetup]
    public void Setup()
    {
        for (var i = 0; i < _tenants.Length; i++)
        {
            _tenants[i] = new TenantId($"tenant-{i}");
        }

        _peer = PartitionedRateLimiter.Create<TenantId, TenantId>(tenant => RateLimitPartition.GetTokenBucketLimiter(tenant, _ => new TokenBucketRateLimiterOptions
        {
            TokenLimit = 1_000_000_000,
            TokensPerPeriod = 1_000_000_000,
            ReplenishmentPeriod = TimeSpan.FromSeconds(1),
            QueueLimit = 0,
            AutoReplenishment = true,
        }));
        var services = new ServiceCollection();
        services.AddLogging();
        services.AddScaleOps(o => o.ConnectionString = "Host=127.0.0.1").AddResilience(o => o.RateLimiting.Plans["default"] =
        [
            new RateLimitRule { PermitLimit = 1_000_000_000, Window = TimeSpan.FromSeconds(1) },
            new RateLimitRule { PermitLimit = 1_000_000_000, Window = TimeSpan.FromDays(1) },
        ]);
        _services = services.BuildServiceProvider();
        _scaleOps = _services.GetRequiredService<PartitionedRateLimiter<TenantId>>();
        foreach (var tenant in _tenants)
        {
            _scaleOps.AcquireAsync(tenant).AsTask().GetAwaiter().GetResult().Dispose(); // learn the plans
        }
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _peer.Dispose();
        _services.Dispose();
    }

    private TenantId Next() => _tenants[_next++ % _tenants.Length];

    [Benchmark(Baseline = true, Description = "System.Threading.RateLimiting token bucket per tenant, AttemptAcquire")]
    public bool PeerAttemptAcquire()
    {
        using var lease = _peer.AttemptAcquire(Next());
        return lease.IsAcquired;
    }

    [Benchmark(Description = "ScaleOps local, 2 stacked buckets, AttemptAcquire")]
    public bool ScaleOpsAttemptAcquire()
    {
        using var lease = _scaleOps.AttemptAcquire(Next());
        return lease.IsAcquired;
    }

    [Benchmark(Description = "ScaleOps local, 2 stacked buckets, AcquireAsync")]
    public async Task<bool> ScaleOpsAcquireAsync()
    {
        using var lease = await _scaleOps.AcquireAsync(Next());
        return lease.IsAcquired;
    }
}
