using System;
using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text.Json;
using System.Threading;
using System.Threading.Tasks;
using Microsoft.Extensions.Caching.Hybrid;
using Microsoft.Extensions.DependencyInjection;
using ScaleOps.Benchmarks.Caching;
using ScaleOps.Caching;
using StackExchange.Redis;
using ZiggyCreatures.Caching.Fusion;

/// <summary>
/// L2 hits: a writer instance of each library stored the value, a reader instance skips its memory level on every
/// call. Baselines: a raw StackExchange.Redis GET, and the same GET plus the same System.Text.Json deserialization
/// (web defaults, as ScaleOps uses) — the least any Redis cache must do.
/// </summary>
internal sealed class L2Contenders : IAsyncDisposable
{
    private const string Key = "doc:1";
    private static readonly JsonSerializerOptions Web = new(JsonSerializerDefaults.Web);
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

    private readonly ConnectionMultiplexer _raw;
    private readonly IDatabase _db;
    private readonly IDatabase _fastFailDb;
    private readonly RedisKey _rawKey;
    private readonly string _peerKey;
    private readonly IDisposable[] _owned;
    private readonly ITenantCache _scaleOps;
    private readonly ITenantCache _eager;
    private readonly FusionCache _fusion;
    private readonly HybridCache _hybrid;

    private L2Contenders(
        ConnectionMultiplexer raw, ConnectionMultiplexer fastFail, RedisKey rawKey, string peerKey, ITenantCache scaleOps, ITenantCache eager, FusionCache fusion,
        HybridCache hybrid, IDisposable[] owned)
    {
        _eager = eager;
        _raw = raw;
        _db = raw.GetDatabase();
        _fastFailDb = fastFail.GetDatabase();
        _rawKey = rawKey;
        _peerKey = peerKey;
        _scaleOps = scaleOps;
        _fusion = fusion;
        _hybrid = hybrid;
        _owned = owned;
    }

    public string[] Names { get; } =
    [
        "raw GET", "GET + JSON", "ScaleOps", "FusionCache", "HybridCache", "leased GET + JSON", "GET + JSON, ScaleOps' client settings",
        "ScaleOps, GetOrSetEntryAsync", "ScaleOps, eager refresh on (not due)",
    ];

    public static async Task<L2Contenders> CreateAsync()
    {
        var redis = CachingPeers.Redis;
        var prefix = "bench:l2i:" + Guid.NewGuid().ToString("N");
        var value = Document.Sample("1");
        var raw = await ConnectionMultiplexer.ConnectAsync(redis);
        var rawKey = (RedisKey)(prefix + ":raw");
        await raw.GetDatabase().StringSetAsync(rawKey, JsonSerializer.SerializeToUtf8Bytes(value, Web), CachingPeers.Duration);

        var (writerProvider, writer) = CachingPeers.ScaleOps(redis, prefix);
        var (readerProvider, reader) = CachingPeers.ScaleOps(redis, prefix);
        var tenant = CachingPeers.EnterTenant(readerProvider); // flows into every await of the measuring loop
        var (eagerProvider, eager) = CachingPeers.ScaleOps(redis, prefix, o => o.EagerRefreshThreshold = 0.9); // due after 27 of 30 min
        var eagerTenant = CachingPeers.EnterTenant(eagerProvider);
        await writer.SetAsync(Key, value);

        var peerKey = prefix + ":" + Key;
        var fusionWriter = CachingPeers.Fusion(redis);
        var fusionReader = CachingPeers.Fusion(redis);
        await fusionWriter.SetAsync(peerKey, value);
        var (hybridWriterProvider, hybridWriter) = CachingPeers.Hybrid(redis);
        var (hybridReaderProvider, hybridReader) = CachingPeers.Hybrid(redis);
        await hybridWriter.SetAsync(peerKey, value);

        var fastFailOptions = CachingPeers.FastFail(redis);
        fastFailOptions.BacklogPolicy = BacklogPolicy.FailFast;
        fastFailOptions.ReconnectRetryPolicy = new LinearRetry(500);
        var fastFail = await ConnectionMultiplexer.ConnectAsync(fastFailOptions);
        var contenders = new L2Contenders(raw, fastFail, rawKey, peerKey, reader, eager, fusionReader, hybridReader,
            [eagerTenant, tenant, writerProvider, readerProvider, eagerProvider, fusionWriter, fusionReader, hybridWriterProvider, hybridReaderProvider, fastFail]);

        // Every contender must really read Redis: the factories throw otherwise, and ScaleOps says where it read.
        var entry = await reader.GetOrSetEntryAsync(Key, Factory, RedisOnly);
        if (entry.Source != CacheSource.Redis || entry.Value.Title != value.Title)
        {
            throw new InvalidOperationException($"ScaleOps answered from {entry.Source}, not Redis.");
        }

        for (var i = 0; i < contenders.Names.Length; i++)
        {
            await contenders.RunBatchAsync(i, 20);
        }

        return contenders;
    }

    /// <summary>Runs <paramref name="count"/> sequential calls of one contender.</summary>
    /// <returns>Elapsed <see cref="Stopwatch"/> ticks.</returns>
    public async Task<long> RunBatchAsync(int contender, int count)
    {
        var started = Stopwatch.GetTimestamp();
        switch (contender)
        {
            case 0:
                for (var i = 0; i < count; i++)
                {
                    _ = await _db.StringGetAsync(_rawKey);
                }

                break;
            case 1:
                for (var i = 0; i < count; i++)
                {
                    var stored = await _db.StringGetAsync(_rawKey);
                    _ = JsonSerializer.Deserialize<Document>(((ReadOnlyMemory<byte>)stored).Span, Web);
                }

                break;
            case 2:
                for (var i = 0; i < count; i++)
                {
                    _ = await _scaleOps.GetOrSetAsync(Key, Factory, RedisOnly);
                }

                break;
            case 3:
                for (var i = 0; i < count; i++)
                {
                    _ = await _fusion.GetOrSetAsync<Document>(_peerKey, FusionFactory, options: FusionRedisOnly);
                }

                break;
            case 4:
                for (var i = 0; i < count; i++)
                {
                    _ = await _hybrid.GetOrCreateAsync(_peerKey, Factory, HybridRedisOnly);
                }

                break;
            case 5:
                // The client's pooled-buffer read, same deserialization.
                for (var i = 0; i < count; i++)
                {
                    using var lease = await _db.StringGetLeaseAsync(_rawKey);
                    _ = JsonSerializer.Deserialize<Document>(lease!.Span, Web);
                }

                break;
            case 7:
                // The entry API: one awaited layer fewer than GetOrSetAsync (no unwrapping of the result).
                for (var i = 0; i < count; i++)
                {
                    _ = await _scaleOps.GetOrSetEntryAsync(Key, Factory, RedisOnly);
                }

                break;
            case 8:
                // Eager refresh on, the value not due: the hit checks the value's remaining freshness.
                for (var i = 0; i < count; i++)
                {
                    _ = await _eager.GetOrSetAsync(Key, Factory, RedisOnly);
                }

                break;
            default:
                // GET + JSON through a client configured as ScaleOps configures its own (fast-fail backlog policy).
                for (var i = 0; i < count; i++)
                {
                    var stored = await _fastFailDb.StringGetAsync(_rawKey);
                    _ = JsonSerializer.Deserialize<Document>(((ReadOnlyMemory<byte>)stored).Span, Web);
                }

                break;
        }

        return Stopwatch.GetTimestamp() - started;
    }

    /// <summary>
    /// Bytes allocated per call over all threads (the client's reader thread included), from 5,000 calls of each
    /// contender run alone.
    /// </summary>
    public async Task<double[]> AllocatedPerCallAsync()
    {
        const int Calls = 5_000;
        var result = new double[Names.Length];
        for (var i = 0; i < Names.Length; i++)
        {
            await RunBatchAsync(i, 100);
            var before = GC.GetTotalAllocatedBytes(precise: true);
            await RunBatchAsync(i, Calls);
            result[i] = (GC.GetTotalAllocatedBytes(precise: true) - before) / (double)Calls;
        }

        return result;
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var owned in _owned)
        {
            owned.Dispose();
        }

        await _raw.DisposeAsync();
    }
}

/// <summary>L1 hits: every library with the same Redis as L2, the key primed; the floor is a bare dictionary lookup.</summary>
internal sealed class L1Contenders : IDisposable
{
    private const string Key = "doc:1";
    private static readonly Func<CancellationToken, ValueTask<Document>> Factory = _ => ValueTask.FromResult(Document.Sample("1"));
    private static readonly Func<FusionCacheFactoryExecutionContext<Document>, CancellationToken, Task<Document>> FusionFactory =
        (_, _) => Task.FromResult(Document.Sample("1"));

    private readonly ConcurrentDictionary<string, Document> _floor = new(StringComparer.Ordinal);
    private readonly ServiceProvider _scaleOpsProvider;
    private readonly ITenantCache _scaleOps;
    private readonly IDisposable _tenant;
    private readonly ServiceProvider _eagerProvider;
    private readonly ITenantCache _eager;
    private readonly IDisposable _eagerTenant;
    private readonly FusionCache _fusion;
    private readonly ServiceProvider _hybridProvider;
    private readonly HybridCache _hybrid;
    private readonly string _peerKey;

    private L1Contenders()
    {
        var redis = CachingPeers.Redis;
        var prefix = "bench:l1i:" + Guid.NewGuid().ToString("N");
        (_scaleOpsProvider, _scaleOps) = CachingPeers.ScaleOps(redis, prefix);
        _tenant = CachingPeers.EnterTenant(_scaleOpsProvider);
        (_eagerProvider, _eager) = CachingPeers.ScaleOps(redis, prefix + ":eager", o => o.EagerRefreshThreshold = 0.9); // due after 27 of 30 min
        _eagerTenant = CachingPeers.EnterTenant(_eagerProvider);
        _fusion = CachingPeers.Fusion(redis);
        (_hybridProvider, _hybrid) = CachingPeers.Hybrid(redis);
        _floor[Key] = Document.Sample("1");
        _peerKey = prefix + ":" + Key;
        _scaleOps.GetOrSetAsync(Key, Factory).AsTask().GetAwaiter().GetResult();
        _fusion.GetOrSetAsync<Document>(_peerKey, FusionFactory).AsTask().GetAwaiter().GetResult();
        _hybrid.GetOrCreateAsync(_peerKey, Factory).AsTask().GetAwaiter().GetResult();
        _eager.GetOrSetAsync(Key, Factory).AsTask().GetAwaiter().GetResult();
        if (_scaleOps.GetOrSetEntryAsync(Key, Factory).AsTask().GetAwaiter().GetResult().Source != CacheSource.Memory
            || _eager.GetOrSetEntryAsync(Key, Factory).AsTask().GetAwaiter().GetResult().Source != CacheSource.Memory)
        {
            throw new InvalidOperationException("The ScaleOps cache did not hit memory.");
        }
    }

    public string[] Names { get; } = ["ConcurrentDictionary floor", "ScaleOps", "FusionCache", "HybridCache", "ScaleOps, eager refresh on (not due)"];

    public static L1Contenders Create() => new();

    /// <summary>Runs <paramref name="count"/> calls of one contender on this thread (L1 hits complete synchronously).</summary>
    /// <returns>Elapsed <see cref="Stopwatch"/> ticks.</returns>
    public long RunBatch(int contender, int count)
    {
        var started = Stopwatch.GetTimestamp();
        switch (contender)
        {
            case 0:
                for (var i = 0; i < count; i++)
                {
                    _ = _floor.TryGetValue(Key, out _);
                }

                break;
            case 1:
                for (var i = 0; i < count; i++)
                {
                    _ = Result(_scaleOps.GetOrSetAsync(Key, Factory));
                }

                break;
            case 2:
                for (var i = 0; i < count; i++)
                {
                    _ = Result(_fusion.GetOrSetAsync<Document>(_peerKey, FusionFactory));
                }

                break;
            case 3:
                for (var i = 0; i < count; i++)
                {
                    _ = Result(_hybrid.GetOrCreateAsync(_peerKey, Factory));
                }

                break;
            default:
                for (var i = 0; i < count; i++)
                {
                    _ = Result(_eager.GetOrSetAsync(Key, Factory));
                }

                break;
        }

        return Stopwatch.GetTimestamp() - started;
    }

    /// <summary>Bytes allocated per call on this thread, from 20,000 calls of each contender.</summary>
    public double[] AllocatedPerCall()
    {
        const int Calls = 20_000;
        var result = new double[Names.Length];
        for (var i = 0; i < Names.Length; i++)
        {
            RunBatch(i, 1_000);
            var before = GC.GetAllocatedBytesForCurrentThread();
            RunBatch(i, Calls);
            result[i] = (GC.GetAllocatedBytesForCurrentThread() - before) / (double)Calls;
        }

        return result;
    }

    public void Dispose()
    {
        _eagerTenant.Dispose();
        _tenant.Dispose();
        _eagerProvider.Dispose();
        _scaleOpsProvider.Dispose();
        _fusion.Dispose();
        _hybridProvider.Dispose();
    }

    private static T Result<T>(ValueTask<T> pending) => pending.IsCompletedSuccessfully ? pending.Result : pending.AsTask().GetAwaiter().GetResult();
}
