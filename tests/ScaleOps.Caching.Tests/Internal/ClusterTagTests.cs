using System;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using ScaleOps.Caching.Internal;
using ScaleOps.Caching.Tests.Support;
using ScaleOps.TestInfrastructure;

namespace ScaleOps.Caching.Tests.Internal;

/// <summary>Tags over many keys on the Redis Cluster.</summary>
public sealed class ClusterTagTests(ClusterRedis redis) : IClassFixture<ClusterRedis>
{
    [Fact]
    public async Task A_tag_over_many_keys_is_removed_on_the_cluster_and_other_tenants_keep_theirs()
    {
        var prefix = Unique.Prefix("audit-cluster", "tags");
        await using var a = CacheNode.Create(redis.ConnectionString, prefix);
        await using var b = CacheNode.Create(redis.ConnectionString, prefix);
        var tagged = new CacheEntryOptions { Expiration = TimeSpan.FromMinutes(10), LocalExpiration = TimeSpan.Zero, Tags = ["docs", "all"] };
        foreach (var tenant in new[] { "t1", "t2" })
        {
            using var scope = a.As(tenant);
            for (var i = 0; i < 200; i++)
            {
                await a.Cache.SetAsync($"k{i}", i, tagged);
            }
        }

        using (a.As("t1"))
        {
            await a.Cache.RemoveByTagAsync("docs");
        }

        using (b.As("t1"))
        {
            for (var i = 0; i < 200; i++)
            {
                Assert.False((await b.Cache.TryGetAsync<int>($"k{i}")).HasValue);
            }
        }

        using (b.As("t2"))
        {
            for (var i = 0; i < 200; i++)
            {
                Assert.Equal(CacheSource.Redis, (await b.Cache.TryGetAsync<int>($"k{i}")).Source);
            }
        }

        Assert.True(a.Cache.GetStatus().RedisAvailable);
    }

    /// <summary>
    /// Tenant ids, keys and tags with the characters of the key layout (<c>:</c>, <c>{</c>, <c>}</c>, <c>%</c>), spaces,
    /// non-ASCII text and the longest lengths: on the Cluster every tenant's keys share its slot (tag scripts and the
    /// stampede lock run without CROSSSLOT), and no two (tenant, key) pairs read each other's value.
    /// </summary>
    [Fact]
    public async Task Tenants_keys_and_tags_of_any_shape_stay_apart_and_on_one_slot_per_tenant()
    {
        var prefix = Unique.Prefix("audit-cluster", "shapes");
        await using var a = CacheNode.Create(redis.ConnectionString, prefix, o => o.DistributedStampedeProtection = true);
        await using var b = CacheNode.Create(redis.ConnectionString, prefix, o => o.DistributedStampedeProtection = true);
        string[] tenants = ["g", "g}:x", "{g}", "g%7D:x", "50%", "a b", "é ü 租户", new string('}', 64) + new string('{', 64)];
        string[] keys = ["k", "x}:k", "{k}", "}{", ":k:", "v0:k:k", "a key", "ключ 🔑", new string('{', 1017)]; // with "locked ": 1,024, the longest key
        var tagged = new CacheEntryOptions { Expiration = TimeSpan.FromMinutes(10), LocalExpiration = TimeSpan.Zero, Tags = ["{t}", "all docs"] };
        foreach (var tenant in tenants)
        {
            using var scope = a.As(tenant);
            foreach (var key in keys)
            {
                await a.Cache.SetAsync(key, $"{tenant}|{key}", tagged);
                Assert.Equal($"{tenant}|{key}|lock", await a.Cache.GetOrSetAsync("locked " + key, _ => ValueTask.FromResult($"{tenant}|{key}|lock"), tagged));
            }
        }

        foreach (var tenant in tenants)
        {
            using var scope = b.As(tenant);
            foreach (var key in keys)
            {
                var read = await b.Cache.TryGetAsync<string>(key);
                Assert.Equal((CacheSource.Redis, $"{tenant}|{key}"), (read.Source, read.Value));
            }
        }

        using (b.As("g}:x"))
        {
            await b.Cache.RemoveByTagAsync("{t}");
        }

        foreach (var tenant in tenants)
        {
            using var scope = a.As(tenant);
            foreach (var key in keys)
            {
                Assert.Equal(tenant != "g}:x", (await a.Cache.TryGetAsync<string>(key)).HasValue);
                Assert.Equal(tenant != "g}:x", (await a.Cache.TryGetAsync<string>("locked " + key)).HasValue);
            }
        }

        Assert.True(a.Cache.GetStatus().RedisAvailable && b.Cache.GetStatus().RedisAvailable);
    }
}
