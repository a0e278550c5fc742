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
}
