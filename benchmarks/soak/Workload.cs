using System;
using System.Linq;
using System.Threading;
using System.Threading.RateLimiting;
using System.Threading.Tasks;
using Microsoft.Extensions.DependencyInjection;
using ScaleOps.Caching;
using ScaleOps.Resilience.CircuitBreakers;
using ScaleOps.Resilience.Quotas;
using ScaleOps.Tenancy;

namespace ScaleOps.Benchmarks.Soak;

/// <summary>
/// What each worker does, in a loop, for a tenant picked from the <see cref="Population"/>: a cache read (tagged) and the
/// two limiters every time; now and then another key, a write, a removal, a tag or tenant invalidation, a quota
/// reservation given back once, and a call through the <c>postgres</c> breaker. Failures (Redis restarting) are counted,
/// not thrown.
/// </summary>
internal sealed class Workload(IServiceProvider app, IServiceProvider local, Population population)
{
    private static readonly CacheEntryOptions Tagged = new() { Tags = ["profile"] };
    private readonly ITenantCache _cache = app.GetRequiredService<ITenantCache>();
    private readonly ITenantContext _tenants = app.GetRequiredService<ITenantContext>();
    private readonly PartitionedRateLimiter<TenantId> _redisLimiter = app.GetRequiredService<PartitionedRateLimiter<TenantId>>();
    private readonly PartitionedRateLimiter<TenantId> _localLimiter = local.GetRequiredService<PartitionedRateLimiter<TenantId>>();
    private readonly IQuotaService _quotas = app.GetRequiredService<IQuotaService>();
    private readonly CircuitBreakerRegistry _breakers = app.GetRequiredService<CircuitBreakerRegistry>();
    private long _operations;
    private long _failures;
    private string? _firstFailure;

    public long Operations => Interlocked.Read(ref _operations);

    public long Failures => Interlocked.Read(ref _failures);

    public string? FirstFailure => Volatile.Read(ref _firstFailure);

    public Task[] Start(int workers, CancellationToken stop) =>
        [.. Enumerable.Range(0, workers).Select(w => Task.Run(() => RunAsync(new Random(w), stop), CancellationToken.None))];

    private async Task RunAsync(Random random, CancellationToken stop)
    {
        var pipeline = _breakers.GetPipeline(CircuitBreakerNames.Postgres);
        while (!stop.IsCancellationRequested)
        {
            var tenant = population.Pick(random);
            var roll = random.Next(1000);
            try
            {
                using (_tenants.BeginScope(new TenantId(tenant)))
                {
                    await OneAsync(tenant, roll, random, pipeline).ConfigureAwait(false);
                }
            }
            catch (Exception ex) when (ex is not OperationCanceledException || !stop.IsCancellationRequested)
            {
                Interlocked.Increment(ref _failures);
                Interlocked.CompareExchange(ref _firstFailure, $"{ex.GetType().Name}: {ex.Message}", null);
            }

            Interlocked.Increment(ref _operations);
        }
    }

    private async Task OneAsync(string tenant, int roll, Random random, Polly.ResiliencePipeline pipeline)
    {
        var profile = await _cache.GetOrSetAsync("profile", _ => ValueTask.FromResult(new Profile(tenant, roll)), Tagged).ConfigureAwait(false);
        if (!string.Equals(profile.Tenant, tenant, StringComparison.Ordinal))
        {
            throw new InvalidOperationException($"Tenant {tenant} read the profile of {profile.Tenant}.");
        }

        var id = new TenantId(tenant);
        using (await _redisLimiter.AcquireAsync(id).ConfigureAwait(false))
        using (await _localLimiter.AcquireAsync(id).ConfigureAwait(false))
        {
        }

        switch (roll)
        {
            case < 100:
                var item = random.Next(20);
                await _cache.GetOrSetAsync($"item:{item}", _ => ValueTask.FromResult(item), new CacheEntryOptions { Tags = [$"group:{item % 3}"] }).ConfigureAwait(false);
                break;
            case < 150:
                await _cache.SetAsync("settings", new Profile(tenant, roll)).ConfigureAwait(false);
                break;
            case < 200:
                await _cache.RemoveAsync("profile").ConfigureAwait(false);
                break;
            case < 220:
                await _cache.RemoveByTagAsync($"group:{random.Next(3)}").ConfigureAwait(false);
                break;
            case < 230:
                await _cache.InvalidateTenantAsync().ConfigureAwait(false);
                break;
            case < 300:
                var reserved = await _quotas.ReserveAsync(roll < 280 ? "jobs" : "documents", 1, CancellationToken.None).ConfigureAwait(false);
                if (roll % 2 == 0)
                {
                    await _quotas.ReleaseOnceAsync(reserved.Reservation!, CancellationToken.None).ConfigureAwait(false);
                }

                break;
            case < 320:
                await pipeline.ExecuteAsync(static _ => ValueTask.CompletedTask).ConfigureAwait(false);
                break;
            default:
                break;
        }
    }

    private sealed record Profile(string Tenant, int Version);
}
