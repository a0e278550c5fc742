using System;
using System.Linq;
using System.Threading.Tasks;
using Microsoft.Extensions.Time.Testing;
using ScaleOps.Caching.Tests.Support;

namespace ScaleOps.Caching.Tests.Internal;

public sealed class MemoryAndMetricsTests(SingleRedis redis) : IClassFixture<SingleRedis>
{
    [Fact]
    public async Task The_sweep_drops_entries_past_their_fail_safe_window_and_the_memory_limit_holds()
    {
        var time = new FakeTimeProvider();
        await using var node = CacheNode.Create(redis.ConnectionString, Unique.Prefix("memory", "sweep"), o =>
        {
            o.MaxMemoryEntries = 3;
            o.FailSafeMaxDuration = TimeSpan.FromMinutes(1);
        }, time);
        using var scope = node.As("acme");
        for (var i = 0; i < 5; i++)
        {
            await node.Cache.SetAsync($"k{i}", i, new CacheEntryOptions { Expiration = TimeSpan.FromMinutes(1) });
            Assert.InRange(node.Cache.GetStatus().MemoryEntries, 1, 3);
        }

        // The newest value is served from memory; what was evicted is still in Redis.
        Assert.Equal(CacheSource.Memory, (await node.Cache.TryGetAsync<int>("k4")).Source);
        var sources = new[] { "k0", "k1", "k2", "k3", "k4" }.Select(k => node.InMemory("acme", k)).Count(inMemory => inMemory);
        Assert.InRange(sources, 1, 3);
        Assert.Equal(CacheSource.Redis, (await node.Cache.TryGetAsync<int>(
            new[] { "k0", "k1", "k2", "k3" }.First(k => !node.InMemory("acme", k)))).Source);

        time.Advance(TimeSpan.FromMinutes(3));
        await node.Internal.MaintainAsync();
        Assert.Equal(0, node.Cache.GetStatus().MemoryEntries);
    }

    [Fact]
    public async Task Tenants_left_with_nothing_in_memory_are_forgotten_after_two_sweeps_and_come_back_without_stale_entries()
    {
        await using var node = CacheNode.Create(redis.ConnectionString, Unique.Prefix("memory", "forget"));
        for (var i = 0; i < 40; i++)
        {
            using var scope = node.As($"t{i}");
            await node.Cache.GetOrSetAsync("k", _ => ValueTask.FromResult("old"));
            await node.Cache.RemoveAsync("k");
        }

        using (node.As("acme"))
        {
            await node.Cache.GetOrSetAsync("doc", _ => ValueTask.FromResult("kept"));
        }

        // t39 was the last tenant looked up before acme; look t7 up last so the memory level's shortcut points at it.
        using (node.As("t7"))
        {
            Assert.Null((await node.Cache.TryGetAsync<string>("k")).Value);
        }

        var buckets = node.Internal.Memory.Buckets;
        Assert.Equal(41, buckets.Count);
        await node.Internal.MaintainAsync();
        Assert.Equal(41, buckets.Count); // empty once: kept (a tenant read only from Redis would otherwise churn)
        await node.Internal.MaintainAsync();
        Assert.Equal(["acme"], buckets.Keys);

        // The forgotten tenant works as before, and a removal reaches the entry a read stored after the sweep (the
        // shortcut to the forgotten bucket must not keep serving from it).
        using (node.As("t7"))
        {
            Assert.Equal("v2", await node.Cache.GetOrSetAsync("k", _ => ValueTask.FromResult("v2")));
            Assert.Equal(CacheSource.Memory, (await node.Cache.GetOrSetEntryAsync("k", _ => ValueTask.FromResult("unused"))).Source);
            await node.Cache.RemoveAsync("k");
            var after = await node.Cache.GetOrSetEntryAsync("k", _ => ValueTask.FromResult("v3"));
            Assert.Equal(CacheSource.Factory, after.Source);
            Assert.Equal("v3", after.Value);
        }

        using (node.As("acme"))
        {
            Assert.Equal(CacheSource.Memory, (await node.Cache.GetOrSetEntryAsync("doc", _ => ValueTask.FromResult("new"))).Source);
        }

        Assert.Equal(2, buckets.Count);
    }

    [Fact]
    public async Task The_memory_bound_holds_over_many_tenants_keeps_hot_entries_and_hits_stay_allocation_free()
    {
        await using var node = CacheNode.Create(redis.ConnectionString, Unique.Prefix("memory", "bound"), o => o.MaxMemoryEntries = 100);
        using var evictions = node.Collect("scaleops.cache.memory.evictions");
        var memoryOnly = new CacheEntryOptions { LocalOnly = true, Expiration = TimeSpan.FromMinutes(10) };
        using (node.As("hot"))
        {
            await node.Cache.SetAsync("hot", "h", memoryOnly);
        }

        for (var tenant = 0; tenant < 200; tenant++)
        {
            using var scope = node.As($"t{tenant}");
            for (var key = 0; key < 5; key++)
            {
                await node.Cache.GetOrSetAsync($"k{key}", _ => ValueTask.FromResult(key), memoryOnly);
                Assert.InRange(node.Cache.GetStatus().MemoryEntries, 1, 100);
                Assert.InRange(CountEntries(node), 1, 100);
                using (node.As("hot"))
                {
                    // Hit between any two eviction scans: CLOCK spares it every time.
                    Assert.Equal(CacheSource.Memory, (await node.Cache.TryGetAsync<string>("hot")).Source);
                }
            }
        }

        Assert.True(node.InMemory("hot", "hot"));
        Assert.True(node.Internal.Memory.Evictions >= 900, $"{node.Internal.Memory.Evictions} evictions for 1,001 entries in a 100-entry level");
        evictions.RecordObservableInstruments();
        Assert.Equal(node.Internal.Memory.Evictions, evictions.LastMeasurement!.Value);

        // Hits after all that eviction: still no allocation and no Redis (one delegate, created before measuring).
        node.AssertMemoryHitsAllocateNothing("hot", "hot");
    }

    /// <summary>
    /// CLOCK's hand keeps its place: each eviction scan goes on where the last one stopped. The scan used to start again
    /// at the front of each tenant's entries (the first bucket moved by one per scan), so it only ever looked at the
    /// entries first in the dictionaries' hash order: there, warm entries went as soon as one scan cleared their mark,
    /// while cold entries further on were never looked at and stayed until they expired, whatever came after them.
    /// </summary>
    [Fact]
    public async Task Eviction_goes_round_every_entry_so_entries_never_read_again_leave_before_hot_ones()
    {
        await using var node = CacheNode.Create(redis.ConnectionString, Unique.Prefix("memory", "clock"), o => o.MaxMemoryEntries = 128);
        var memoryOnly = new CacheEntryOptions { LocalOnly = true, Expiration = TimeSpan.FromMinutes(30) };
        foreach (var tenant in new[] { "acme", "globex" })
        {
            using var scope = node.As(tenant);
            for (var i = 0; i < 56; i++)
            {
                await node.Cache.SetAsync($"old-{i}", i, memoryOnly); // written once, never read again
            }
        }

        using (node.As("acme"))
        {
            for (var i = 0; i < 16; i++)
            {
                await node.Cache.SetAsync($"hot-{i}", i, memoryOnly);
                Assert.Equal(CacheSource.Memory, (await node.Cache.TryGetAsync<int>($"hot-{i}")).Source);
            }

            // 2,000 newer entries pass through the 128-entry level; the hot ones are read between any two writes.
            for (var i = 0; i < 2_000; i++)
            {
                await node.Cache.SetAsync($"new-{i}", i, memoryOnly);
                for (var h = 0; h < 16; h++)
                {
                    Assert.Equal(CacheSource.Memory, (await node.Cache.TryGetAsync<int>($"hot-{h}")).Source);
                }
            }
        }

        // Never read since written: gone once 1,000 newer entries came (CLOCK evicts them at the hand's second visit).
        var stale = new[] { "acme", "globex" }
            .SelectMany(t => Enumerable.Range(0, 56).Where(i => node.InMemory(t, $"old-{i}")).Select(i => $"{t}/old-{i}"))
            .Concat(Enumerable.Range(0, 1_000).Where(i => node.InMemory("acme", $"new-{i}")).Select(i => $"new-{i}"))
            .ToList();

        // Just written: still there (a new entry has its mark, so the hand passes it once before it can go).
        var recent = Enumerable.Range(1_984, 16).Where(i => !node.InMemory("acme", $"new-{i}")).Select(i => $"new-{i}").ToList();
        Assert.True(
            stale.Count == 0 && recent.Count == 0,
            $"{stale.Count} entries unread for 1,000 writes or more are kept ({string.Join(", ", stale.Take(8))}), "
            + $"{recent.Count} of the last 16 written are gone ({string.Join(", ", recent)})");
    }

    private static int CountEntries(CacheNode node) => node.Internal.Memory.Buckets.Values.Sum(bucket => bucket.Entries.Count);

    [Fact]
    public async Task A_custom_serializer_writes_and_reads_the_Redis_copies()
    {
        var prefix = Unique.Prefix("memory", "serializer");
        var serializer = new CountingSerializer();
        await using var a = CacheNode.Create(redis.ConnectionString, prefix, o => o.Serializer = serializer);
        await using var b = CacheNode.Create(redis.ConnectionString, prefix, o => o.Serializer = serializer);
        using var scope = a.As("acme");
        await a.Cache.SetAsync("k", new[] { "x", "y" });
        Assert.Equal(["x", "y"], (await b.Cache.TryGetAsync<string[]>("k")).Value);
        Assert.Equal((1, 1), (serializer.Writes, serializer.Reads));
    }

    private sealed class CountingSerializer : ScaleOps.Caching.Serialization.ICacheSerializer
    {
        private readonly ScaleOps.Caching.Serialization.SystemTextJsonCacheSerializer _inner = new();

        public int Writes { get; private set; }

        public int Reads { get; private set; }

        public void Serialize<T>(T value, System.Buffers.IBufferWriter<byte> destination)
        {
            Writes++;
            _inner.Serialize(value, destination);
        }

        public T Deserialize<T>(ReadOnlySpan<byte> data)
        {
            Reads++;
            return _inner.Deserialize<T>(data);
        }
    }

    [Fact]
    public async Task Hits_misses_factory_time_and_ratio_are_measured_per_level()
    {
        var prefix = Unique.Prefix("memory", "metrics");
        await using var b = CacheNode.Create(redis.ConnectionString, prefix);
        using var hits = b.Collect("scaleops.cache.hits");
        using var misses = b.Collect("scaleops.cache.misses");
        using var factory = new Microsoft.Extensions.Diagnostics.Metrics.Testing.MetricCollector<double>(b.Metrics.Meter, "scaleops.cache.factory.duration");
        using var ratio = new Microsoft.Extensions.Diagnostics.Metrics.Testing.MetricCollector<double>(b.Metrics.Meter, "scaleops.cache.hit_ratio");
        using var scope = b.As("acme");

        // In Redis only (written by this instance, so no other instance's invalidation can race the reads below; its
        // memory copy dropped, since a LocalExpiration stored with the value would keep the reads below off memory).
        await b.Cache.SetAsync("shared", "s");
        b.Internal.Memory.Remove(b.Internal.Memory.Find("acme")!, "shared");

        await b.Cache.GetOrSetAsync("shared", _ => ValueTask.FromResult("never"));   // memory miss, redis hit
        await b.Cache.GetOrSetAsync("shared", _ => ValueTask.FromResult("never"));   // memory hit
        await b.Cache.GetOrSetAsync("own", _ => ValueTask.FromResult("o"));          // memory miss, redis miss, factory

        string[] Levels(Microsoft.Extensions.Diagnostics.Metrics.Testing.MetricCollector<long> c) =>
            [.. c.GetMeasurementSnapshot().Select(m => (string)m.Tags["level"]!).Order()];
        Assert.Equal(["memory", "redis"], Levels(hits));
        Assert.Equal(["memory", "memory", "redis"], Levels(misses));
        Assert.Single(factory.GetMeasurementSnapshot());
        var status = b.Cache.GetStatus();
        Assert.Equal((2, 1), (status.Hits, status.Misses));
        Assert.Equal(2 / 3.0, status.HitRatio, 3);
        ratio.RecordObservableInstruments();
        Assert.Equal(2 / 3.0, ratio.LastMeasurement!.Value, 3);
        Assert.False(status.IsDegraded);
    }
}
