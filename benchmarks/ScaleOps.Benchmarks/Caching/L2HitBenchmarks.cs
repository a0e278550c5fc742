using System;
using System.Text.Json;
using System.Threading;
using System.Threading.Tasks;
using BenchmarkDotNet.Attributes;
using Microsoft.Extensions.Caching.Hybrid;
using Microsoft.Extensions.DependencyInjection;
using ScaleOps.Caching;
using StackExchange.Redis;
using ZiggyCreatures.Caching.Fusion;

namespace ScaleOps.Benchmarks.Caching;

/// <summary>
/// A Redis (L2) hit: a writer stored the value, the reader skips its memory level on every call. Baseline: one raw
/// StackExchange.Redis GET of the same JSON.
/// </summary>
[MemoryDiagnoser]
[SimpleJob(launchCount: 1, warmupCount: 3, iterationCount: 9)]
public class L2HitBenchmarks
{
    private const string Key = "doc:1";
    private static readonly Func<CancellationToken, ValueTask<Document>> Factory = _ => throw new InvalidOperationException("The factory ran: not an L2 hit.");
    private static readonly Func<FusionCacheFactoryExecutionContext<Document>, CancellationToken, Task<Document>> FusionFactory =
        (_, _) => throw new InvalidOperationException("The factory ran: not an L2 hit.");

    private static readonly CacheEntryOptions RedisOnly = new() { LocalExpiration = TimeSpan.Zero };
    private static readonly FusionCacheEntryOptions FusionRedisOnly = new()
    {
        Duration = CachingPeers.Duration,
        SkipMemoryCacheRead = true,
        SkipMemoryCacheWrite = true,
    };

    private static readonly HybridCacheEntryOptions HybridRedisOnly = new() { Expiration = CachingPeers.Duration, Flags = HybridCacheEntryFlags.DisableLocalCache };

    private ConnectionMultiplexer _raw = null!;
    private IDatabase _db = null!;
    private string _rawKey = "";
    private string _peerKey = "";
    private ServiceProvider _writerProvider = null!;
    private ServiceProvider _readerProvider = null!;
    private ITenantCache _reader = null!;
    private IDisposable _tenant = null!;
    private FusionCache _fusionWriter = null!;
    private FusionCache _fusionReader = null!;
    private ServiceProvider _hybridWriterProvider = null!;
    private ServiceProvider _hybridReaderProvider = null!;
    private HybridCache _hybridReader = null!;

    [GlobalSetup]
    public void Setup()
    {
        var redis = CachingPeers.Redis;
        var prefix = "bench:l2:" + Guid.NewGuid().ToString("N");
        var value = Document.Sample("1");
        _raw = ConnectionMultiplexer.Connect(redis);
        _db = _raw.GetDatabase();
        _rawKey = prefix + ":raw";
        _db.StringSet(_rawKey, JsonSerializer.SerializeToUtf8Bytes(value));

        (_writerProvider, var writer) = CachingPeers.ScaleOps(redis, prefix);
        (_readerProvider, _reader) = CachingPeers.ScaleOps(redis, prefix);
        _tenant = CachingPeers.EnterTenant(_readerProvider);
        writer.SetAsync(Key, value).AsTask().GetAwaiter().GetResult();

        _peerKey = prefix + ":" + Key;
        _fusionWriter = CachingPeers.Fusion(redis);
        _fusionReader = CachingPeers.Fusion(redis);
        _fusionWriter.SetAsync(_peerKey, value).AsTask().GetAwaiter().GetResult();
        (_hybridWriterProvider, var hybridWriter) = CachingPeers.Hybrid(redis);
        (_hybridReaderProvider, _hybridReader) = CachingPeers.Hybrid(redis);
        hybridWriter.SetAsync(_peerKey, value).AsTask().GetAwaiter().GetResult();

        // Every contender must really hit Redis (the factories throw otherwise).
        if (ScaleOps().AsTask().GetAwaiter().GetResult().Title != value.Title
            || FusionCache().AsTask().GetAwaiter().GetResult().Title != value.Title
            || HybridCache().AsTask().GetAwaiter().GetResult().Title != value.Title)
        {
            throw new InvalidOperationException("A contender did not read the stored value.");
        }
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _tenant.Dispose();
        _writerProvider.Dispose();
        _readerProvider.Dispose();
        _fusionWriter.Dispose();
        _fusionReader.Dispose();
        _hybridWriterProvider.Dispose();
        _hybridReaderProvider.Dispose();
        _raw.Dispose();
    }

    [Benchmark(Baseline = true)]
    public Task<RedisValue> RawGet() => _db.StringGetAsync(_rawKey);

    [Benchmark]
    public async Task<Document?> RawGetPlusJson() => JsonSerializer.Deserialize<Document>((byte[])(await _db.StringGetAsync(_rawKey))!);

    [Benchmark]
    public ValueTask<Document> ScaleOps() => _reader.GetOrSetAsync(Key, Factory, RedisOnly);

    [Benchmark]
    public ValueTask<Document> FusionCache() => _fusionReader.GetOrSetAsync<Document>(_peerKey, FusionFactory, options: FusionRedisOnly);

    [Benchmark]
    public ValueTask<Document> HybridCache() => _hybridReader.GetOrCreateAsync(_peerKey, Factory, HybridRedisOnly);
}
