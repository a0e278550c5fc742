using System;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using ScaleOps.Caching.Tests.Support;
using ScaleOps.TestInfrastructure;

namespace ScaleOps.Caching.Tests.Internal;

/// <summary>
/// <see cref="CachingOptions.MaxMemoryEntriesPerTenant"/>: one tenant with a large working set (a scan, a bulk export)
/// evicts from its own entries only, so the other tenants' hot entries stay in memory. Under the global bound alone it
/// pushed them all out of memory and their reads went to Redis (the noisy neighbour).
/// </summary>
public sealed class TenantBoundTests(SingleRedis redis) : IClassFixture<SingleRedis>
{
    private static readonly string[] Quiet = ["acme", "globex", "initech", "umbrella"];

    private static async Task WriteQuietTenantsAsync(CacheNode node)
    {
        foreach (var tenant in Quiet)
        {
            using var scope = node.As(tenant);
            for (var i = 0; i < 10; i++)
            {
                await node.Cache.SetAsync($"hot-{i}", $"{tenant}-{i}");
                Assert.Equal(CacheSource.Memory, (await node.Cache.TryGetAsync<string>($"hot-{i}")).Source); // hit once: hot
            }
        }
    }

    /// <summary>
    /// Reads every quiet tenant's hot entry, checking each came from memory; with <paramref name="profile"/>, returns the
    /// Redis commands the node sent meanwhile (none: no read went to Redis).
    /// </summary>
    private static async Task<string[]> ReadQuietTenantsAsync(CacheNode node, bool profile = true)
    {
        var session = new StackExchange.Redis.Profiling.ProfilingSession();
        if (profile)
        {
            node.Internal.Redis.Multiplexer!.RegisterProfiler(() => session);
        }

        try
        {
            foreach (var tenant in Quiet)
            {
                using var scope = node.As(tenant);
                for (var i = 0; i < 10; i++)
                {
                    var read = await node.Cache.TryGetAsync<string>($"hot-{i}");
                    Assert.Equal(($"{tenant}-{i}", CacheSource.Memory), (read.Value, read.Source));
                }
            }
        }
        finally
        {
            if (profile)
            {
                node.Internal.Redis.Multiplexer!.RegisterProfiler(static () => null); // stop profiling
            }
        }

        return [.. session.FinishProfiling().Select(c => c.Command)];
    }

    private static int Held(CacheNode node, string tenant) => node.Internal.Memory.Find(tenant)?.Entries.Count ?? 0;

    [Fact]
    public async Task A_tenant_writing_ten_times_its_bound_evicts_only_its_own_cold_entries_which_Redis_still_serves()
    {
        // 4 quiet tenants × 10 hot entries + the noisy tenant's 20 fit in 100: only the noisy tenant's bound evicts.
        await using var node = CacheNode.Create(redis.ConnectionString, Unique.Prefix("tenantbound", "noisy"), o =>
        {
            o.MaxMemoryEntries = 100;
            o.MaxMemoryEntriesPerTenant = 20;
        });
        using var measurements = new CacheMeasurements(node.Metrics.Meter);
        await WriteQuietTenantsAsync(node);

        using (node.As("noisy"))
        {
            for (var i = 0; i < 4; i++)
            {
                await node.Cache.SetAsync($"hot-{i}", i);
            }

            // A scan: 200 keys written once, never read again; the tenant's own hot entries are read between writes.
            for (var i = 0; i < 200; i++)
            {
                await node.Cache.SetAsync($"scan-{i}", i);
                Assert.InRange(Held(node, "noisy"), 1, 20); // one writer at a time: the bound holds exactly
                for (var h = 0; h < 4; h++)
                {
                    Assert.Equal(CacheSource.Memory, (await node.Cache.TryGetAsync<int>($"hot-{h}")).Source);
                }
            }
        }

        Assert.Empty(await ReadQuietTenantsAsync(node));
        Assert.All(Quiet, tenant => Assert.Equal(10, Held(node, tenant)));
        Assert.Equal(0, measurements.Sum("scaleops.cache.hits", "level", "redis"));
        Assert.Equal(80, measurements.Sum("scaleops.cache.hits", "level", "memory") - 4 * 200); // 40 when hot + 40 now

        // The noisy tenant's evictions are counted (no tenant tag) and what it lost is still in Redis.
        var memory = node.Internal.Memory;
        Assert.True(memory.Evictions >= 184, $"{memory.Evictions} evictions for 204 entries of a tenant bound to 20");
        Assert.Equal(memory.Evictions, memory.TenantEvictions);
        measurements.Observe();
        Assert.Equal<double?>(memory.Evictions, measurements.Last("scaleops.cache.memory.evictions"));
        Assert.Empty(measurements.TagNames("scaleops.cache.memory.evictions"));
        using (node.As("noisy"))
        {
            var lost = Enumerable.Range(0, 200).Where(i => !node.InMemory("noisy", $"scan-{i}")).Take(5).ToList();
            Assert.Equal(5, lost.Count);
            foreach (var i in lost)
            {
                var read = await node.Cache.TryGetAsync<int>($"scan-{i}");
                Assert.Equal((i, CacheSource.Redis), (read.Value, read.Source));
                Assert.InRange(Held(node, "noisy"), 1, 20); // the copy read back counts too
            }
        }

        // Hits after all that eviction pressure: no allocation (one delegate, created before measuring; the listener,
        // which copies every measurement's tags, stopped).
        measurements.Dispose();
        node.AssertMemoryHitsAllocateNothing("acme", "hot-3");
    }

    [Fact]
    public async Task Concurrent_writers_of_one_tenant_converge_to_its_bound_and_never_evict_another_tenants_entries()
    {
        const int Bound = 20;
        const int Writers = 8;
        await using var node = CacheNode.Create(redis.ConnectionString, Unique.Prefix("tenantbound", "concurrent"), o =>
        {
            o.MaxMemoryEntries = 1_000; // far above what the racing writers can pass the tenant's bound by
            o.MaxMemoryEntriesPerTenant = Bound;
        });
        await WriteQuietTenantsAsync(node);

        // Writers race on the noisy tenant while the quiet tenants' hot entries are read (eviction meets readers).
        using var stop = new CancellationTokenSource();
        var readers = Task.Run(async () =>
        {
            var rounds = 0;
            while (!stop.IsCancellationRequested || rounds == 0)
            {
                await ReadQuietTenantsAsync(node, profile: false); // the writers' commands would be profiled too
                rounds++;
                await Task.Yield();
            }

            return rounds;
        });
        var noisyReader = Task.Run(async () =>
        {
            // The tenant's own entries read while its hand evicts them: from memory or Redis, never wrong or failing.
            using var scope = node.As("noisy");
            var rounds = 0;
            while (!stop.IsCancellationRequested || rounds == 0)
            {
                var i = (2 * rounds++ + 1) % (10 * Bound); // odd: written to Redis too
                var read = await node.Cache.TryGetAsync<int>($"w1-{i}");
                Assert.True(!read.HasValue || read.Value == i, $"w1-{i} read as {read.Value} from {read.Source}");
            }
        });
        var writers = Enumerable.Range(0, Writers).Select(w => Task.Run(async () =>
        {
            using var scope = node.As("noisy");
            for (var i = 0; i < 10 * Bound; i++)
            {
                await node.Cache.SetAsync($"w{w}-{i}", i, new CacheEntryOptions { LocalOnly = i % 2 == 0 });
            }
        })).ToArray();
        await Task.WhenAll(writers).WaitAsync("the noisy tenant's writers");
        await stop.CancelAsync();
        Assert.True(await readers.WaitAsync("the quiet tenants' readers") >= 1);
        await noisyReader.WaitAsync("the noisy tenant's reader");

        // The bound may be passed while writers race; once they are done it holds (the evicting writer looks again).
        Assert.InRange(Held(node, "noisy"), 1, Bound);
        Assert.All(Quiet, tenant => Assert.Equal(10, Held(node, tenant)));
        Assert.Empty(await ReadQuietTenantsAsync(node));
        Assert.True(node.Internal.Memory.TenantEvictions >= Writers * 10 * Bound - Bound);
    }
}
