using System;
using System.Linq;
using System.Threading.Tasks;
using ScaleOps.Caching.Internal;
using ScaleOps.Caching.Tests.Support;
using ScaleOps.TestInfrastructure;
using StackExchange.Redis;

namespace ScaleOps.Caching.Tests.Outage;

/// <summary>
/// The README's outage promises on a Redis Cluster (single Redis: <see cref="RedisOutageTests"/>): while one node, or
/// every node, is unreachable, no call throws and the cache works from memory; when the nodes return (with their data),
/// the removals made meanwhile are replayed, so no instance serves a removed value. Each test starts its own cluster.
/// </summary>
public sealed class ClusterOutageTests
{
    private static CacheNode Node(PrivateRedisCluster cluster, string prefix) => CacheNode.Create(cluster.Endpoints, prefix, o =>
    {
        o.RedisTimeout = TimeSpan.FromSeconds(1);
        o.BreakerDuration = TimeSpan.FromMilliseconds(200);
    });

    private static Task Until(Func<Task<bool>> condition, string what) => TestSignal.UntilAsync(condition, what, TimeSpan.FromSeconds(60));

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task While_cluster_nodes_are_unreachable_no_call_throws_and_removals_made_meanwhile_are_not_undone(bool everyNode)
    {
        await using var cluster = await PrivateRedisCluster.StartAsync(TimeSpan.FromSeconds(1));
        var prefix = Unique.Prefix("cluster-outage", everyNode ? "all" : "one");
        await using var a = Node(cluster, prefix);
        await using var b = Node(cluster, prefix);
        await using var admin = await ConnectionMultiplexer.ConnectAsync(cluster.Endpoints);
        var raw = admin.GetDatabase();
        System.Net.EndPoint Owner(string tenant) => raw.IdentifyEndpoint(RedisKeys.Generation(RedisKeys.TenantPrefix(prefix, tenant)))!;

        // Two tenants on different nodes; the first one's node is the one that goes away.
        const string down = "t0";
        var up = Enumerable.Range(1, 100).Select(i => $"t{i}").First(t => !Equals(Owner(t), Owner(down)));
        var downPort = ((System.Net.IPEndPoint)Owner(down)).Port;
        var victims = everyNode ? cluster.Nodes.ToArray() : [.. cluster.Nodes.Where(n => n.Port == downPort)];
        Assert.NotEmpty(victims);

        // B writes each tenant's values itself (so its memory keeps them) until A reads them from Redis.
        await Until(async () =>
        {
            var ready = true;
            foreach (var tenant in new[] { down, up })
            {
                await a.Internal.MaintainAsync();
                await b.Internal.MaintainAsync();
                using var scopeB = b.As(tenant);
                await b.Cache.SetAsync("doc", "v1");
                await b.Cache.SetAsync("kept", "k1");
                using var scopeA = a.As(tenant);
                ready &= (await a.Cache.TryGetAsync<string>("doc")).Source == CacheSource.Redis
                    && (await a.Cache.TryGetAsync<string>("kept")).Source == CacheSource.Redis
                    && b.InMemory(tenant, "doc") && b.Cache.GetStatus().PendingInvalidations == 0;
            }

            return ready;
        }, "both tenants' values to reach Redis and be read there");

        foreach (var victim in victims)
        {
            await victim.StopAsync();
        }

        // Meanwhile: nothing throws, loads run from memory, removals are taken (and queued where Redis refused them).
        foreach (var tenant in new[] { down, up })
        {
            using (a.As(tenant))
            {
                await a.Cache.RemoveAsync("doc");
                Assert.Equal("n", await a.Cache.GetOrSetAsync("new", _ => ValueTask.FromResult("n")));
                await a.Cache.SetAsync("written", "w");
                await a.Cache.TryGetAsync<string>("kept");
                await a.Cache.RemoveByTagAsync("some-tag");
            }
        }

        await Until(async () =>
        {
            using var scope = a.As(down);
            await a.Cache.TryGetAsync<string>("other");
            return a.Cache.GetStatus().IsDegraded;
        }, "A to notice the unreachable node and work from memory");
        using (b.As(down))
        {
            Assert.Equal("k1", (await b.Cache.TryGetAsync<string>("kept")).Value); // B's memory still serves
        }

        foreach (var victim in victims)
        {
            await victim.RestartAsync(); // with its data: the removed values are back in Redis until the replay
        }

        await cluster.OkAsync();
        await Until(async () =>
        {
            await a.Internal.MaintainAsync();
            await b.Internal.MaintainAsync();
            return a.Cache.GetStatus() is { PendingInvalidations: 0, RedisAvailable: true }
                && !b.InMemory(down, "doc") && !b.InMemory(up, "doc");
        }, "A to replay its removals and B to drop its memory copies");

        foreach (var tenant in new[] { down, up })
        {
            using var scope = b.As(tenant);
            var read = await b.Cache.GetOrSetEntryAsync("doc", _ => ValueTask.FromResult("v2"));
            Assert.Equal((CacheSource.Factory, "v2"), (read.Source, read.Value));
            Assert.Equal("k1", (await b.Cache.TryGetAsync<string>("kept")).Value);
        }
    }
}
