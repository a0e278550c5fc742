using System;
using System.ComponentModel;
using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using System.Threading;
using System.Threading.Tasks;
using Microsoft.Extensions.Caching.Hybrid;
using Microsoft.Extensions.Caching.Memory;
using Microsoft.Extensions.Caching.StackExchangeRedis;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using ScaleOps.Caching;
using ScaleOps.Tenancy;
using ScaleOps.TestInfrastructure;
using StackExchange.Redis;
using ZiggyCreatures.Caching.Fusion;
using ZiggyCreatures.Caching.Fusion.Serialization;

namespace ScaleOps.Benchmarks.Caching;

/// <summary>The cached value: a 7-field DTO (about 270 B of JSON), immutable so HybridCache need not copy it (its best case).</summary>
[ImmutableObject(true)]
public sealed record Document(Guid Id, string Tenant, string Title, string Owner, int Version, DateTimeOffset UpdatedAt, string Summary)
{
    public static Document Sample(string id) => new(Guid.NewGuid(), "acme", "Quarterly report " + id, "ann@example.com", 7,
        new DateTimeOffset(2026, 11, 1, 12, 0, 0, TimeSpan.Zero), new string('s', 120));
}

/// <summary>Builds the three caches alike: memory L1 + the same Redis as L2, 30-minute entries, fast-fail Redis client.</summary>
public static class CachingPeers
{
    public static readonly TimeSpan Duration = TimeSpan.FromMinutes(30);

    public static string Redis => TcpServer.RedisAsync().GetAwaiter().GetResult();

    /// <summary>A loopback port with no listener: every connection is refused (a Redis outage).</summary>
    public static string RefusedEndpoint()
    {
        using var probe = new TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        var port = ((IPEndPoint)probe.LocalEndpoint).Port;
        probe.Stop();
        return $"127.0.0.1:{port}";
    }

    public static ConfigurationOptions FastFail(string endpoint)
    {
        var options = ConfigurationOptions.Parse(endpoint);
        options.AbortOnConnectFail = false;
        options.ConnectTimeout = 250;
        options.SyncTimeout = 250;
        options.AsyncTimeout = 250;
        options.ConnectRetry = 1;
        return options;
    }

    public static (ServiceProvider Provider, ITenantCache Cache) ScaleOps(string endpoint, string prefix, Action<CachingOptions>? configure = null)
    {
        var services = new ServiceCollection();
        services.AddSingleton<IConfiguration>(new ConfigurationBuilder().Build());
        services.AddScaleOps(o =>
        {
            o.ConnectionString = "Host=127.0.0.1";
            o.ApplyMigrationsOnStart = false;
        }).AddCaching(o =>
        {
            o.RedisConnectionString = endpoint;
            o.KeyPrefix = prefix;
            o.DefaultExpiration = Duration;
            configure?.Invoke(o);
        });
        var provider = services.BuildServiceProvider();
        return (provider, provider.GetRequiredService<ITenantCache>());
    }

    public static TenantScope EnterTenant(ServiceProvider provider) =>
        provider.GetRequiredService<ITenantContext>().BeginScope(new TenantId("acme"));

    public static FusionCache Fusion(string endpoint, bool tuned = false)
    {
        var options = new FusionCacheOptions
        {
            DefaultEntryOptions = new FusionCacheEntryOptions { Duration = Duration },
        };
        if (tuned)
        {
            options.DistributedCacheCircuitBreakerDuration = TimeSpan.FromSeconds(10);
            options.DefaultEntryOptions.DistributedCacheSoftTimeout = TimeSpan.FromMilliseconds(100);
            options.DefaultEntryOptions.DistributedCacheHardTimeout = TimeSpan.FromSeconds(1);
            options.DefaultEntryOptions.AllowBackgroundDistributedCacheOperations = true;
        }

        var cache = new FusionCache(options, new MemoryCache(new MemoryCacheOptions()));
        cache.SetupDistributedCache(new RedisCache(new RedisCacheOptions { ConfigurationOptions = FastFail(endpoint) }), new StjFusionSerializer());
        return cache;
    }

    public static (ServiceProvider Provider, HybridCache Cache) Hybrid(string endpoint)
    {
        var services = new ServiceCollection();
        services.AddStackExchangeRedisCache(o => o.ConfigurationOptions = FastFail(endpoint));
        services.AddHybridCache(o => o.DefaultEntryOptions = new HybridCacheEntryOptions { Expiration = Duration, LocalCacheExpiration = Duration });
        var provider = services.BuildServiceProvider();
        return (provider, provider.GetRequiredService<HybridCache>());
    }

    /// <summary>A minimal System.Text.Json serializer for FusionCache (its own adapter package is not used here).</summary>
    private sealed class StjFusionSerializer : IFusionCacheSerializer
    {
        public byte[] Serialize<T>(T? obj) => JsonSerializer.SerializeToUtf8Bytes(obj);

        public T? Deserialize<T>(byte[] data) => JsonSerializer.Deserialize<T>(data);

        public ValueTask<byte[]> SerializeAsync<T>(T? obj, CancellationToken token = default) => new(Serialize(obj));

        public ValueTask<T?> DeserializeAsync<T>(byte[] data, CancellationToken token = default) => new(Deserialize<T>(data));
    }
}
