using System;
using System.Collections.Generic;
using System.Threading.Tasks;
using Microsoft.Extensions.Caching.Hybrid;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;
using Microsoft.Extensions.Time.Testing;
using ScaleOps.Caching.Internal;
using ScaleOps.Caching.Internal.L2;
using ScaleOps.Diagnostics;
using ScaleOps.Tenancy;
using StackExchange.Redis;

namespace ScaleOps.Caching.Tests.Support;

/// <summary>One application instance with the cache registered (its own service provider, its own Redis connection).</summary>
public sealed class CacheNode : IAsyncDisposable
{
    private readonly ServiceProvider _provider;

    private CacheNode(ServiceProvider provider)
    {
        _provider = provider;
        Cache = provider.GetRequiredService<ITenantCache>();
        Tenants = provider.GetRequiredService<ITenantContext>();
        Hybrid = provider.GetRequiredService<HybridCache>();
        Metrics = provider.GetRequiredService<ScaleOpsMetrics>();
    }

    public ITenantCache Cache { get; }

    public HybridCache Hybrid { get; }

    public ITenantContext Tenants { get; }

    public ScaleOpsMetrics Metrics { get; }

    /// <summary>The log records of a node created with <c>logs: true</c>.</summary>
    public FakeLogCollector Logs => _provider.GetRequiredService<FakeLogCollector>();

    public IServiceProvider Services => _provider;

    internal TenantCache Internal => _provider.GetRequiredService<TenantCache>();

    /// <summary>Creates a node. Nodes made with the same <paramref name="prefix"/> share their Redis data.</summary>
    /// <param name="redis">The Redis connection string.</param>
    /// <param name="prefix">The key prefix.</param>
    /// <param name="configure">Options set in code.</param>
    /// <param name="time">
    /// A clock, if not the system's. A <see cref="FakeTimeProvider"/> is also Redis' clock for the node (no offset is
    /// measured, as for any clock other than the system's); any other clock (<see cref="SkewedTime"/>) is corrected to
    /// Redis' by the measured offset, as the system clock is in production.
    /// </param>
    /// <param name="logs">Whether every log record, at every level, is collected (<see cref="Logs"/>).</param>
    /// <returns>The node.</returns>
    public static CacheNode Create(string redis, string prefix, Action<CachingOptions>? configure = null, TimeProvider? time = null, bool logs = false)
    {
        var services = new ServiceCollection();
        services.AddLogging(b =>
        {
            if (logs)
            {
                b.SetMinimumLevel(LogLevel.Trace).AddFakeLogging();
            }
        });
        services.AddSingleton<IConfiguration>(new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>()).Build());
        if (time is not null)
        {
            services.AddSingleton(time);
        }

        if (time is not null and not FakeTimeProvider)
        {
            // A clock running in real time but off (SkewedTime) is corrected to Redis' by the measured offset, as the system
            // clock is in production. A fake clock is taken as Redis' clock, as the cache does for any non-system clock.
            services.AddSingleton(new MeasuredRedisClock());
        }

        services.AddScaleOps(o =>
            {
                o.ConnectionString = "Host=127.0.0.1";
                o.ApplyMigrationsOnStart = false;
            })
            .AddCaching(o =>
            {
                o.RedisConnectionString = redis;
                o.KeyPrefix = prefix;

                // Two shared cores run many test classes at once: allow slow answers unless a test is about outages.
                o.RedisTimeout = TimeSpan.FromSeconds(5);
                configure?.Invoke(o);
            });
        return new CacheNode(services.BuildServiceProvider(validateScopes: true));
    }

    public TenantScope As(string tenant) => Tenants.BeginScope(new TenantId(tenant));

    public MetricCollector<long> Collect(string instrument) => new(Metrics.Meter, instrument);

    /// <summary>Whether this node holds <paramref name="key"/> of <paramref name="tenant"/> in memory.</summary>
    /// <summary>
    /// Asserts that hits on <paramref name="key"/> of <paramref name="tenant"/> come from memory, synchronously, and allocate
    /// nothing: 100 warm-up hits, then 1,000 measured ones (one delegate, created before measuring).
    /// </summary>
    internal void AssertMemoryHitsAllocateNothing(string tenant, string key)
    {
        using var scope = As(tenant);
        Func<System.Threading.CancellationToken, ValueTask<string>> never = _ => ValueTask.FromResult("never");
        for (var i = 0; i < 100; i++)
        {
            _ = Cache.GetOrSetEntryAsync(key, never);
        }

        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < 1_000; i++)
        {
            var hit = Cache.GetOrSetEntryAsync(key, never);
#pragma warning disable xUnit1031 // completed synchronously (checked first): a memory hit never waits
            Xunit.Assert.True(hit.IsCompletedSuccessfully && hit.Result.Source == CacheSource.Memory);
#pragma warning restore xUnit1031
        }

        Xunit.Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }

    internal bool InMemory(string tenant, string key) =>
        Internal.Memory.Find(tenant) is { } bucket && bucket.Entries.ContainsKey(key);

    internal async Task<IDatabase> RawAsync()
    {
        var options = _provider.GetRequiredService<Microsoft.Extensions.Options.IOptions<CachingOptions>>().Value;
        var mux = await ConnectionMultiplexer.ConnectAsync(options.RedisConnectionString!);
        return mux.GetDatabase();
    }

    public async ValueTask DisposeAsync() => await _provider.DisposeAsync();
}
