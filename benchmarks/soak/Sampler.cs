using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.Linq;
using System.Reflection;
using System.Text;
using System.Threading;
using System.Threading.RateLimiting;
using System.Threading.Tasks;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using ScaleOps.Tenancy;
using StackExchange.Redis;

namespace ScaleOps.Benchmarks.Soak;

/// <summary>One sample (see <see cref="Sampler"/>); -1 where a figure could not be read (Redis restarting).</summary>
internal sealed record Sample(
    double Seconds,
    int Seen,
    long HeapBytes,
    int Gen2,
    int Threads,
    long Timers,
    long CacheBuckets,
    long CacheEntries,
    long PlanCache,
    long LeasePools,
    long ScriptKeys,
    long FallbackTenants,
    long LocalTenants,
    long DbSize,
    long UsedMemory,
    long GenKeys,
    long ValueKeys,
    long TagKeys,
    long LockKeys,
    long LimiterKeys,
    long NoTtlKeys,
    long QuotaUsageRows,
    long QuotaReleaseRows)
{
    public static readonly string Header =
        "| s | tenants seen | heap MB | gen2 | threads | timers | cache buckets | L1 entries | plan cache | lease pools | script keys "
        + "| fallback tenants | local tenants | DBSIZE | used_memory MB | gen keys | value keys | tag keys | lock keys | limiter keys "
        + "| keys without TTL | quota_usage | quota_release |\n|" + string.Concat(Enumerable.Repeat("---|", 23));

    public string Row => string.Create(CultureInfo.InvariantCulture,
        $"| {Seconds:F0} | {Seen} | {HeapBytes / 1048576d:F1} | {Gen2} | {Threads} | {Timers} | {CacheBuckets} | {CacheEntries} | {PlanCache} "
        + $"| {LeasePools} | {ScriptKeys} | {FallbackTenants} | {LocalTenants} | {DbSize} | {UsedMemory / 1048576d:F1} | {GenKeys} | {ValueKeys} "
        + $"| {TagKeys} | {LockKeys} | {LimiterKeys} | {NoTtlKeys} | {QuotaUsageRows} | {QuotaReleaseRows} |");

    /// <summary>First sample under load, last sample under load, and the one taken after the load stopped.</summary>
    public static string Summary(Sample start, Sample end, Sample settled)
    {
        var text = new StringBuilder("| figure | start | end | after the load stopped |\n|---|---|---|---|\n");
        void Line(string name, Func<Sample, string> value) => text.Append(CultureInfo.InvariantCulture, $"| {name} | {value(start)} | {value(end)} | {value(settled)} |\n");
        Line("seconds", s => s.Seconds.ToString("F0", CultureInfo.InvariantCulture));
        Line("tenants seen", s => s.Seen.ToString(CultureInfo.InvariantCulture));
        Line("heap after full GC, MB", s => (s.HeapBytes / 1048576d).ToString("F1", CultureInfo.InvariantCulture));
        Line("threads", s => s.Threads.ToString(CultureInfo.InvariantCulture));
        Line("active timers", s => s.Timers.ToString(CultureInfo.InvariantCulture));
        Line("cache tenant buckets", s => s.CacheBuckets.ToString(CultureInfo.InvariantCulture));
        Line("limiter state (plan cache / pools / script keys / fallback / local)",
            s => $"{s.PlanCache} / {s.LeasePools} / {s.ScriptKeys} / {s.FallbackTenants} / {s.LocalTenants}");
        Line("Redis used_memory, MB", s => (s.UsedMemory / 1048576d).ToString("F1", CultureInfo.InvariantCulture));
        Line("Redis keys (gen / value / tag / lock / limiter)", s => $"{s.GenKeys} / {s.ValueKeys} / {s.TagKeys} / {s.LockKeys} / {s.LimiterKeys}");
        Line("Redis keys without TTL", s => s.NoTtlKeys.ToString(CultureInfo.InvariantCulture));
        Line("quota_usage / quota_release rows", s => $"{s.QuotaUsageRows} / {s.QuotaReleaseRows}");
        return text.ToString();
    }
}

/// <summary>
/// Takes the samples: the process after a full compacting collection, the packages' per-tenant state (internal counts,
/// read by reflection: <c>TenantCache.Memory.Buckets</c>, <c>PlanCatalog.CachedTenantCount</c>, the Redis limiter's pools,
/// cached script keys and local fallback, the local limiter's tenants), Redis (its own admin connection; every key under
/// the run's prefixes is scanned and its TTL read) and the quota tables.
/// </summary>
internal sealed class Sampler(IServiceProvider app, IServiceProvider local, string redisEndpoint, string postgres, string run, Population population) : IAsyncDisposable
{
    private const BindingFlags Any = BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic;
    private readonly object _cache = app.GetRequiredService(Type.GetType("ScaleOps.Caching.Internal.TenantCache, ScaleOps.Caching", true)!);
    private readonly Type _catalog = Type.GetType("ScaleOps.Resilience.Internal.RateLimiting.PlanCatalog, ScaleOps.Resilience", true)!;
    private readonly object _redisLimiter = app.GetRequiredService<PartitionedRateLimiter<TenantId>>();
    private readonly object _localLimiter = local.GetRequiredService<PartitionedRateLimiter<TenantId>>();
    private readonly NpgsqlDataSource _pg = NpgsqlDataSource.Create(postgres);
    private ConnectionMultiplexer? _admin;

    /// <summary>
    /// After the load stopped: two rounds of 65 s, each ended by one call of one tenant through both limiters (their
    /// sweeps run on the call path: pools and local state every 10 s, expired plans once per PlanCacheDuration, script
    /// keys once a minute); the cache sweeps every 5 s on its own.
    /// </summary>
    public async Task SettleAsync()
    {
        var id = new TenantId(Population.Name(population.Seen - 1));
        for (var round = 0; round < 2; round++)
        {
            await Task.Delay(TimeSpan.FromSeconds(65)); // past the one-minute key sweep, with margin
            (await ((PartitionedRateLimiter<TenantId>)_redisLimiter).AcquireAsync(id)).Dispose();
            (await ((PartitionedRateLimiter<TenantId>)_localLimiter).AcquireAsync(id)).Dispose();
        }
    }

    public async Task<Sample> TakeAsync(TimeSpan elapsed)
    {
        GC.Collect(2, GCCollectionMode.Forced, blocking: true, compacting: true);
        GC.WaitForPendingFinalizers();
        GC.Collect(2, GCCollectionMode.Forced, blocking: true, compacting: true);
        var heap = GC.GetGCMemoryInfo(GCKind.FullBlocking).HeapSizeBytes;
        using var process = Process.GetCurrentProcess();
        var fallback = Get(_redisLimiter, "FallbackLimiter");
        var redis = await RedisAsync();
        var (usage, release) = await QuotaRowsAsync();
        return new Sample(
            elapsed.TotalSeconds,
            Math.Min(population.Seen, int.MaxValue),
            heap,
            GC.CollectionCount(2),
            process.Threads.Count,
            Timer.ActiveCount,
            Count(Get(Get(_cache, "Memory"), "Buckets")),
            Count(Get(_cache, "Memory"), "ApproximateCount"),
            Count(app.GetRequiredService(_catalog), "CachedTenantCount"),
            Count(_redisLimiter, "PoolCount"),
            Count(_redisLimiter, "CachedKeyCount"),
            Count(fallback, "TenantCount"),
            Count(_localLimiter, "TenantCount"),
            redis.DbSize,
            redis.UsedMemory,
            redis.Kinds.GetValueOrDefault("gen", 0),
            redis.Kinds.GetValueOrDefault("value", 0),
            redis.Kinds.GetValueOrDefault("tag", 0),
            redis.Kinds.GetValueOrDefault("lock", 0),
            redis.Kinds.GetValueOrDefault("limiter", 0),
            redis.NoTtl,
            usage,
            release);
    }

    private static object? Get(object? target, string name) =>
        target?.GetType().GetProperty(name, Any)?.GetValue(target);

    private static long Count(object? target, string? property = null)
    {
        var value = property is null ? target : Get(target, property);
        return value switch
        {
            int i => i,
            long l => l,
            System.Collections.ICollection c => c.Count,
            _ => -1,
        };
    }

    private async Task<(long DbSize, long UsedMemory, Dictionary<string, long> Kinds, long NoTtl)> RedisAsync()
    {
        var kinds = new Dictionary<string, long>(StringComparer.Ordinal);
        try
        {
            _admin ??= await ConnectionMultiplexer.ConnectAsync(redisEndpoint + ",allowAdmin=true,abortConnect=false,connectTimeout=5000");
            var server = _admin.GetServers()[0];
            var db = _admin.GetDatabase();
            var size = await server.DatabaseSizeAsync();
            var info = await server.InfoAsync("memory");
            var used = long.Parse(info.SelectMany(g => g).First(p => p.Key == "used_memory").Value, CultureInfo.InvariantCulture);
            long noTtl = 0;
            var batch = new List<RedisKey>(1000);
            await foreach (var key in server.KeysAsync(pattern: run + ":*", pageSize: 1000))
            {
                var kind = Kind(key.ToString());
                kinds[kind] = kinds.GetValueOrDefault(kind, 0) + 1;
                batch.Add(key);
                if (batch.Count == 1000)
                {
                    noTtl += await NoTtlAsync(db, batch);
                }
            }

            noTtl += await NoTtlAsync(db, batch);
            return (size, used, kinds, noTtl);
        }
        catch (Exception ex) when (ex is RedisException or TimeoutException)
        {
            return (-1, -1, kinds, -1);
        }
    }

    private string Kind(string key)
    {
        if (key.StartsWith(run + ":rl:", StringComparison.Ordinal))
        {
            return "limiter";
        }

        var close = key.LastIndexOf('}');
        var rest = close < 0 ? key : key[(close + 2)..];
        return rest == "gen" ? "gen" : rest.Contains(":k:", StringComparison.Ordinal) ? "value"
            : rest.Contains(":z:", StringComparison.Ordinal) || rest.Contains(":t:", StringComparison.Ordinal) ? "tag"
            : rest.Contains(":l:", StringComparison.Ordinal) ? "lock" : "other";
    }

    /// <summary>Keys with no TTL (PTTL -1; a key deleted or expired since the SCAN answers -2 and is not counted).</summary>
    private static async Task<long> NoTtlAsync(IDatabase db, List<RedisKey> keys)
    {
        var ttls = await Task.WhenAll(keys.Select(k => db.ExecuteAsync("PTTL", k)));
        keys.Clear();
        return ttls.Count(t => (long)t == -1);
    }

    private async Task<(long Usage, long Release)> QuotaRowsAsync()
    {
        await using var command = _pg.CreateCommand("SELECT (SELECT count(*) FROM scaleops.quota_usage), (SELECT count(*) FROM scaleops.quota_release)");
        await using var reader = await command.ExecuteReaderAsync();
        await reader.ReadAsync();
        return (reader.GetInt64(0), reader.GetInt64(1));
    }

    /// <summary>Deletes every key under the run's prefixes (on the shared server: generation keys have no TTL).</summary>
    public async Task DeleteRunKeysAsync()
    {
        _admin ??= await ConnectionMultiplexer.ConnectAsync(redisEndpoint + ",allowAdmin=true,abortConnect=false,connectTimeout=5000");
        var batch = new List<RedisKey>(1000);
        await foreach (var key in _admin.GetServers()[0].KeysAsync(pattern: run + ":*", pageSize: 1000))
        {
            batch.Add(key);
        }

        foreach (var chunk in batch.Chunk(1000))
        {
            await _admin.GetDatabase().KeyDeleteAsync(chunk);
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_admin is not null)
        {
            await _admin.DisposeAsync();
        }

        await _pg.DisposeAsync();
    }
}
