using System;
using System.Linq;
using System.Net;
using System.Net.Sockets;
using System.Threading;
using System.Threading.Tasks;
using ScaleOps.Caching.Tests.Support;
using ScaleOps.TestInfrastructure;
using StackExchange.Redis;

namespace ScaleOps.Caching.Tests.Internal;

/// <summary>The README's Metrics section, instrument by instrument and tag by tag, as a metrics exporter hears them.</summary>
public sealed class MetricsTests(SingleRedis redis) : IClassFixture<SingleRedis>
{
    private static readonly CacheEntryOptions Briefly = new() { Expiration = TimeSpan.FromMilliseconds(1) };

    /// <summary>A loopback port nothing listens on: a Redis that is down.</summary>
    internal static string ClosedEndpoint()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        return $"127.0.0.1:{port}";
    }

    /// <summary>Waits until the fresh part of <paramref name="key"/> has passed in memory and Redis (a 1 ms expiration).</summary>
    internal static Task ExpiredAsync(CacheNode node, string key) => TestSignal.UntilAsync(
        async () => !(await node.Cache.TryGetAsync<string>(key)).HasValue, $"{key} to expire");

    [Fact]
    public async Task Every_documented_instrument_is_published_with_its_unit_and_each_documented_tag_value()
    {
        var prefix = Unique.Prefix("metrics", "instruments");
        Action<CachingOptions> configure = o =>
        {
            o.JitterFraction = 0;
            o.MaxMemoryEntries = 20;
        };
        await using var node = CacheNode.Create(redis.ConnectionString, prefix, configure);
        await using var other = CacheNode.Create(redis.ConnectionString, prefix, configure);
        await using var down = CacheNode.Create(ClosedEndpoint(), prefix, o => o.RedisTimeout = TimeSpan.FromMilliseconds(100));
        using var m = new CacheMeasurements(node.Metrics.Meter);
        using var mOther = new CacheMeasurements(other.Metrics.Meter);
        using var mDown = new CacheMeasurements(down.Metrics.Meter);
        using var scope = node.As("acme");

        await node.Cache.GetOrSetAsync("k", _ => ValueTask.FromResult("v"));                   // memory miss, Redis miss, factory
        await node.Cache.GetOrSetAsync("k", _ => ValueTask.FromResult("x"));                   // memory hit
        using (other.As("acme"))
        {
            await other.Cache.SetAsync("written", "w");
        }

        await node.Cache.GetOrSetAsync("written", _ => ValueTask.FromResult("x"));             // Redis hit

        // Fail-safe: an expired value and a failing factory.
        await node.Cache.SetAsync("stale", "old", Briefly);
        await ExpiredAsync(node, "stale");
        Assert.Equal("old", await node.Cache.GetOrSetAsync<string>("stale", _ => throw new InvalidOperationException("down")));

        // A factory slower than FactoryTimeout (it fails later, in the background).
        await node.Cache.SetAsync("slow", "old", Briefly);
        await ExpiredAsync(node, "slow");
        var gate = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        Assert.Equal("old", await node.Cache.GetOrSetAsync("slow", _ => new ValueTask<string>(gate.Task), new CacheEntryOptions { FactoryTimeout = TimeSpan.FromMilliseconds(1) }));
        gate.SetException(new InvalidOperationException("late failure"));

        // An error reply about one key.
        var raw = await node.RawAsync();
        await raw.HashSetAsync(ScaleOps.Caching.Internal.RedisKeys.Value(ScaleOps.Caching.Internal.RedisKeys.TenantPrefix(prefix, "acme"), await Support.Generations.OfAsync(raw, prefix, "acme"), "wrong"), "f", "another app's");
        Assert.Equal("loaded", await node.Cache.GetOrSetAsync("wrong", _ => ValueTask.FromResult("loaded")));

        // Callers arriving together in one process, and on two instances (per-call distributed protection).
        var process = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        var together = Enumerable.Range(0, 2).Select(_ => node.Cache.GetOrSetAsync("together", _ => new ValueTask<string>(process.Task)).AsTask()).ToArray();
        await TestSignal.UntilAsync(() => Task.FromResult(m.Sum("scaleops.cache.stampede.waits", "scope", "process") > 0), "a process stampede wait");
        process.SetResult("p");
        await Task.WhenAll(together).WaitAsync("the process stampede");

        var locked = new CacheEntryOptions { DistributedStampedeProtection = true };
        var holder = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var first = node.Cache.GetOrSetAsync("cluster", _ =>
        {
            started.TrySetResult();
            return new ValueTask<string>(holder.Task);
        }, locked).AsTask();
        await started.Task.WaitAsync("the lock holder's factory");
        Task<string> second;
        using (other.As("acme"))
        {
            second = other.Cache.GetOrSetAsync("cluster", _ => ValueTask.FromResult("second instance ran"), locked).AsTask();
        }

        await TestSignal.UntilAsync(() => Task.FromResult(mOther.Sum("scaleops.cache.stampede.waits", "scope", "cluster") > 0), "a cluster stampede wait");
        holder.SetResult("c");
        Assert.Equal(["c", "c"], await Task.WhenAll(first, second).WaitAsync("the cluster stampede"));

        // Redis down.
        using (down.As("acme"))
        {
            Assert.Equal("memory", await down.Cache.GetOrSetAsync("k", _ => ValueTask.FromResult("memory")));
        }

        // Past MaxMemoryEntries.
        for (var i = 0; i < 40; i++)
        {
            await node.Cache.SetAsync($"fill:{i}", "f");
        }

        m.Observe();

        string[] documented =
        [
            "scaleops.cache.factory.duration", "scaleops.cache.fallbacks", "scaleops.cache.hit_ratio", "scaleops.cache.hits",
            "scaleops.cache.memory.entries", "scaleops.cache.memory.evictions", "scaleops.cache.misses", "scaleops.cache.stampede.waits",
        ];
        Assert.Equal(documented, m.Instruments.Keys.Order(StringComparer.Ordinal));
        Assert.Equal("s", m.Instruments["scaleops.cache.factory.duration"].Unit);
        Assert.Equal(["memory", "redis", "stale"], m.TagValues("scaleops.cache.hits", "level"));
        Assert.Equal(["memory", "redis"], m.TagValues("scaleops.cache.misses", "level"));
        Assert.Equal(["factory_timeout", "fail_safe", "redis_error"], m.TagValues("scaleops.cache.fallbacks", "reason"));
        Assert.Equal(["redis_unavailable"], mDown.TagValues("scaleops.cache.fallbacks", "reason"));
        Assert.Equal(["process"], m.TagValues("scaleops.cache.stampede.waits", "scope"));
        Assert.Equal(["cluster"], mOther.TagValues("scaleops.cache.stampede.waits", "scope"));
        Assert.Equal(["failure", "success"], m.TagValues("scaleops.cache.factory.duration", "outcome"));
        Assert.Equal(["level"], m.TagNames("scaleops.cache.hits"));
        Assert.Equal(["level"], m.TagNames("scaleops.cache.misses"));
        Assert.Equal(["reason"], m.TagNames("scaleops.cache.fallbacks"));
        Assert.Equal(["scope"], m.TagNames("scaleops.cache.stampede.waits"));
        Assert.Equal(["outcome"], m.TagNames("scaleops.cache.factory.duration"));

        var status = node.Cache.GetStatus();
        Assert.Equal(status.HitRatio, m.Last("scaleops.cache.hit_ratio")!.Value, 6);
        Assert.InRange(status.HitRatio, 0.01, 0.99);
        Assert.Equal(status.MemoryEntries, (long)m.Last("scaleops.cache.memory.entries")!.Value);
        Assert.InRange(m.Last("scaleops.cache.memory.evictions")!.Value, 1, double.MaxValue);
    }

    /// <summary>
    /// <c>misses{level=redis}</c> counts Redis reads that found no fresh value (a <c>TryGetAsync</c> miss included), not
    /// factory runs: a factory that runs without reading Redis (Redis down, or a <c>LocalOnly</c> entry) is no Redis miss.
    /// Factory runs are the count of <c>scaleops.cache.factory.duration</c>.
    /// </summary>
    [Fact]
    public async Task A_redis_miss_is_a_read_of_Redis_that_found_nothing_and_factory_runs_are_the_duration_count()
    {
        var prefix = Unique.Prefix("metrics", "redis-miss");
        await using var node = CacheNode.Create(redis.ConnectionString, prefix);
        await using var down = CacheNode.Create(ClosedEndpoint(), prefix, o => o.RedisTimeout = TimeSpan.FromMilliseconds(100));
        using var m = new CacheMeasurements(node.Metrics.Meter);
        using var mDown = new CacheMeasurements(down.Metrics.Meter);
        using (node.As("acme"))
        {
            Assert.False((await node.Cache.TryGetAsync<string>("absent")).HasValue);  // Redis read, nothing there
            Assert.Equal(1, m.Sum("scaleops.cache.misses", "level", "redis"));
            Assert.Equal(0, m.Sum("scaleops.cache.factory.duration", "outcome", "success") + m.Sum("scaleops.cache.factory.duration", "outcome", "failure"));

            await node.Cache.GetOrSetAsync("local", _ => ValueTask.FromResult("l"), new CacheEntryOptions { LocalOnly = true }); // factory, Redis not read
            Assert.Equal(1, m.Sum("scaleops.cache.misses", "level", "redis"));
            await node.Cache.GetOrSetAsync("loaded", _ => ValueTask.FromResult("f"));   // Redis read, then the factory
            Assert.Equal(2, m.Sum("scaleops.cache.misses", "level", "redis"));
        }

        using (down.As("acme"))
        {
            await down.Cache.GetOrSetAsync("loaded", _ => ValueTask.FromResult("f"));   // factory, Redis not read
        }

        Assert.Equal(0, mDown.Sum("scaleops.cache.misses", "level", "redis"));
        Assert.Equal(1, mDown.Sum("scaleops.cache.misses", "level", "memory"));
        Assert.Equal(1, mDown.Sum("scaleops.cache.fallbacks", "reason", "redis_unavailable"));
        Assert.Equal((2L, 1L), (node.Cache.GetStatus().Misses, down.Cache.GetStatus().Misses)); // the ratio's misses: factory runs
    }

    /// <summary>
    /// A factory that throws before returning its task (a plain lambda that throws, not an async one) is a failed run
    /// like one whose task fails: it used to be counted nowhere (no duration, no miss in the hit ratio).
    /// </summary>
    [Fact]
    public async Task A_factory_that_throws_before_returning_its_task_counts_as_a_failed_run()
    {
        await using var node = CacheNode.Create(redis.ConnectionString, Unique.Prefix("metrics", "sync-throw"));
        using var durations = new Microsoft.Extensions.Diagnostics.Metrics.Testing.MetricCollector<double>(node.Metrics.Meter, "scaleops.cache.factory.duration");
        using var scope = node.As("acme");
        Func<CancellationToken, ValueTask<string>> throwsAtOnce = _ => throw new InvalidOperationException("database down");
        Func<CancellationToken, ValueTask<string>> failsLater = async _ =>
        {
            await Task.Yield();
            throw new InvalidOperationException("database down");
        };

        await Assert.ThrowsAsync<InvalidOperationException>(async () => await node.Cache.GetOrSetAsync("a", throwsAtOnce));
        await Assert.ThrowsAsync<InvalidOperationException>(async () => await node.Cache.GetOrSetAsync("b", failsLater));

        Assert.Equal(["failure", "failure"], durations.GetMeasurementSnapshot().Select(m => (string)m.Tags["outcome"]!));
        Assert.Equal(2, node.Cache.GetStatus().Misses);
    }
}
