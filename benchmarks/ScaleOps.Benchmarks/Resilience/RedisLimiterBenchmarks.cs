using System;
using System.Linq;
using System.Threading.RateLimiting;
using System.Threading.Tasks;
using BenchmarkDotNet.Attributes;
using Microsoft.Extensions.DependencyInjection;
using ScaleOps.Resilience.Internal.RateLimiting;
using ScaleOps.Resilience.RateLimiting;
using ScaleOps.Tenancy;
using ScaleOps.TestInfrastructure;
using StackExchange.Redis;

namespace ScaleOps.Benchmarks.Resilience;

/// <summary>
/// One decision of the Redis tenant limiter, one request in flight, over 1,000 tenants, against a raw Redis round trip
/// (<c>GET</c>, the baseline) and the raw <c>EVALSHA</c> of the same script without the limiter around it (keys built
/// ahead, as the least a caller can do); plus the leased mode for one hot tenant. All share one multiplexer. The servers come from <c>scripts/servers.sh start</c>.
/// </summary>
[MemoryDiagnoser]
[MedianColumn, MinColumn, MaxColumn]
public class RedisLimiterBenchmarks
{
    private readonly TenantId[] _tenants = Enumerable.Range(0, 1000).Select(i => new TenantId($"bench-{i}")).ToArray();
    private readonly TenantId _hot = new("bench-hot");
    private ConnectionMultiplexer _raw = null!;
    private IDatabase _db = null!;
    private byte[] _sha1 = null!;
    private RedisValue[] _args = null!;
    private RedisKey[][] _rawKeys = null!;
    private ServiceProvider _perDecision = null!;
    private ServiceProvider _leased = null!;
    private PartitionedRateLimiter<TenantId> _limiter = null!;
    private PartitionedRateLimiter<TenantId> _leasedLimiter = null!;
    private int _next;

    [GlobalSetup]
    public void Setup()
    {
        var endpoint = TcpServer.RedisAsync().GetAwaiter().GetResult();
        _raw = ConnectionMultiplexer.Connect(endpoint);
        _db = _raw.GetDatabase();
        _db.StringSet("bench:get", "value");
        var loaded = _raw.GetServers()[0].ScriptLoad(RedisTenantRateLimiter.Script);
        _sha1 = loaded;
        _args = ["1", "1", "0", "2", "1000000000", "1000000", "1000000000", "11.574074074074074"];
        _rawKeys = _tenants.Select(t => new RedisKey[] { string.Concat("bench:raw:{", t.ToString(), "}:default") }).ToArray();
        _perDecision = Build(_raw, leaseSize: 1);
        _leased = Build(_raw, leaseSize: 100);
        _limiter = _perDecision.GetRequiredService<PartitionedRateLimiter<TenantId>>();
        _leasedLimiter = _leased.GetRequiredService<PartitionedRateLimiter<TenantId>>();
        foreach (var tenant in _tenants)
        {
            _limiter.AcquireAsync(tenant).AsTask().GetAwaiter().GetResult().Dispose();
        }
    }

    private static ServiceProvider Build(IConnectionMultiplexer connection, int leaseSize)
    {
        var services = new ServiceCollection();
        services.AddLogging();
        services.AddSingleton(connection); // the limiter shares the raw rows' connection, as in a host that registers one
        services.AddScaleOps(o => o.ConnectionString = "Host=127.0.0.1").AddResilience(o =>
        {
            o.RateLimiting.Store = RateLimiterStore.Redis;
            o.RateLimiting.LeaseSize = leaseSize;
            o.RateLimiting.RedisKeyPrefix = "bench:rl:";
            o.RateLimiting.Plans["default"] =
            [
                new RateLimitRule { PermitLimit = 1_000_000_000, Window = TimeSpan.FromSeconds(1) },
                new RateLimitRule { PermitLimit = 1_000_000_000, Window = TimeSpan.FromDays(1) },
            ];
        });
        return services.BuildServiceProvider();
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _perDecision.Dispose();
        _leased.Dispose();
        _raw.Dispose();
    }

    private TenantId Next() => _tenants[_next++ % _tenants.Length];

    [Benchmark(Baseline = true, Description = "raw round trip: GET")]
    public async Task<bool> RawGet() => (await _db.StringGetAsync("bench:get")).HasValue;

    [Benchmark(Description = "raw EVALSHA of the bucket script (no limiter)")]
    public async Task<bool> RawEvalSha()
    {
        var result = await _db.ScriptEvaluateAsync(_sha1, _rawKeys[_next++ % _rawKeys.Length], _args);
        return (long)((RedisResult[])result!)[0] > 0;
    }

    [Benchmark(Description = "ScaleOps Redis limiter, AcquireAsync (1 round trip)")]
    public async Task<bool> ScaleOpsRedis()
    {
        using var lease = await _limiter.AcquireAsync(Next());
        return lease.IsAcquired;
    }

    [Benchmark(Description = "ScaleOps Redis limiter, leased (100 tokens), one hot tenant")]
    public async Task<bool> ScaleOpsLeasedHotTenant()
    {
        using var lease = await _leasedLimiter.AcquireAsync(_hot);
        return lease.IsAcquired;
    }
}
