using System;
using System.Collections.Generic;
using System.Linq;
using System.Threading.Tasks;
using ScaleOps.Caching.Tests.Support;
using StackExchange.Redis;

namespace ScaleOps.Caching.Tests.Internal;

/// <summary>
/// Ten thousand tenants passing through one instance: what the memory level keeps per tenant (buckets with their
/// generation, epochs, watched keys, flights, lock waits) is bounded by <c>MaxMemoryEntries</c> plus the tenants seen
/// since the sweep before last, and nothing of a finished call stays behind.
/// </summary>
public sealed class ManyTenantsTests(SingleRedis redis) : IClassFixture<SingleRedis>
{
    [Fact]
    public async Task Ten_thousand_tenants_leave_at_most_MaxMemoryEntries_buckets_after_two_sweeps()
    {
        await using var node = CacheNode.Create(redis.ConnectionString, Unique.Prefix("many", "tenants"), o => o.MaxMemoryEntries = 1_000);
        var memory = node.Internal.Memory;
        for (var i = 0; i < 10_000; i++)
        {
            using var scope = node.As($"tenant {i}: {{x}}");
            Assert.Equal(i, await node.Cache.GetOrSetAsync("profile", _ => ValueTask.FromResult(i)));
            Assert.False((await node.Cache.TryGetAsync<int>("absent")).HasValue);
            Assert.InRange(node.Cache.GetStatus().MemoryEntries, 1, 1_000);
        }

        Assert.Equal(10_000, memory.Buckets.Count); // tenants seen since the last sweep: kept until two sweeps found them empty
        Assert.All(memory.Buckets.Values, b => Assert.Equal((0, true), (b.WatchedKeys, b.Flights.IsEmpty)));
        Assert.Equal(0, node.Internal.LockWaiterCount);

        await node.Internal.MaintainAsync();
        await node.Internal.MaintainAsync();

        Assert.InRange(memory.Buckets.Count, 1, 1_000);
        Assert.All(memory.Buckets.Values, b => Assert.NotEmpty(b.Entries));
        Assert.Equal(memory.Buckets.Values.Sum(b => b.Entries.Count), node.Cache.GetStatus().MemoryEntries);

        // A forgotten tenant reads its value back from Redis, under the generation it reads again.
        using (node.As("tenant 0: {x}"))
        {
            var entry = await node.Cache.GetOrSetEntryAsync("profile", _ => ValueTask.FromResult(-1));
            Assert.Equal((0, CacheSource.Redis), (entry.Value, entry.Source));
        }
    }

    /// <summary>
    /// What a churning tenant population leaves in Redis for good: nothing. Every key the cache writes has a time to live,
    /// a tenant's generation key too (written at the tenant's first Redis access, it lives 30 days after its last read or
    /// advance, README "Known limits"), whatever the tenant did: read, wrote, removed keys and tags, or invalidated
    /// everything. Before the generation epoch, a tenant's generation key had no time to live and stayed for good.
    /// </summary>
    [Fact]
    public async Task Every_key_a_tenant_leaves_expires_its_generation_key_30_days_after_its_last_use()
    {
        var prefix = Unique.Prefix("many", "ttl");
        await using var node = CacheNode.Create(redis.ConnectionString, prefix, o => o.DistributedStampedeProtection = true);
        for (var i = 0; i < 500; i++)
        {
            using var scope = node.As($"tenant-{i}");
            var tagged = new CacheEntryOptions { Tags = ["profile", $"group-{i % 3}"] };
            await node.Cache.GetOrSetAsync("profile", _ => ValueTask.FromResult(i), tagged);
            await node.Cache.GetOrSetAsync<string?>("absent", _ => ValueTask.FromResult<string?>(null));
            await node.Cache.SetAsync("settings", i, tagged);
            await node.Cache.RemoveAsync("settings");
            await node.Cache.RemoveByTagAsync($"group-{(i + 1) % 3}");
            if (i % 10 == 0)
            {
                await node.Cache.InvalidateTenantAsync();
                await node.Cache.SetAsync("after", i, tagged);
            }
        }

        await using var admin = await ConnectionMultiplexer.ConnectAsync(redis.ConnectionString);
        var db = admin.GetDatabase();
        var keys = new List<RedisKey>();
        await foreach (var key in admin.GetServers()[0].KeysAsync(pattern: prefix + ":*", pageSize: 1000))
        {
            keys.Add(key);
        }

        var ttls = await Task.WhenAll(keys.Select(k => db.KeyTimeToLiveAsync(k)));
        Assert.True(keys.Count > 1_000, $"{keys.Count} keys"); // values, tag indexes and generations were written
        Assert.Empty(keys.Where((_, i) => ttls[i] is null));
        var generations = keys.Select((k, i) => (Key: k.ToString(), Ttl: ttls[i]!.Value)).Where(k => k.Key.EndsWith("}:gen", StringComparison.Ordinal)).ToList();
        Assert.Equal(500, generations.Count); // one per tenant
        Assert.All(generations, g => Assert.InRange(g.Ttl, TimeSpan.FromDays(29), TimeSpan.FromDays(30)));
    }
}
