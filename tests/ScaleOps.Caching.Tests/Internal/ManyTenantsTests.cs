using System.Linq;
using System.Threading.Tasks;
using ScaleOps.Caching.Tests.Support;

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
}
