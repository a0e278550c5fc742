using System.Linq;
using System.Threading.Tasks;
using ScaleOps.Caching.Tests.Support;
using ScaleOps.TestInfrastructure;

namespace ScaleOps.Caching.Tests.Internal;

/// <summary>
/// <see cref="CachingOptions.MaxMemoryEntries"/> under concurrent writers: it may be passed while they race, and it holds
/// again once they stop.
/// </summary>
public sealed class MemoryBoundTests(SingleRedis redis) : IClassFixture<SingleRedis>
{
    private const int Bound = 20;

    [Fact]
    public async Task Writes_that_find_the_scan_taken_are_evicted_by_the_scanning_writer_once_it_lets_the_scan_go()
    {
        // A writer that found the scan taken stored anyway and returned, and the scanning writer did not look at the count
        // again after letting the scan go: entries added between the scan's last look and its end stayed above the bound
        // until the next write (for good, when none came). The hook holds the scan while three other writes land.
        await using var node = CacheNode.Create(redis.ConnectionString, Unique.Prefix("memorybound", "taken"), o => o.MaxMemoryEntries = Bound);
        using (node.As("first"))
        {
            for (var i = 0; i < Bound; i++)
            {
                await node.Cache.SetAsync($"k{i}", i, new CacheEntryOptions { LocalOnly = true });
            }
        }

        var held = 0;
        node.Internal.Memory.AfterScan = () =>
        {
            node.Internal.Memory.AfterScan = null;
            var late = Task.Run(async () =>
            {
                using var scope = node.As("second");
                for (var i = 0; i < 3; i++)
                {
                    await node.Cache.SetAsync($"late{i}", i, new CacheEntryOptions { LocalOnly = true });
                }
            });
            Assert.True(late.Wait(TestSignal.DefaultTimeout), "the three writes during the scan did not end");
            held = (int)node.Internal.Memory.ApproximateCount;
        };
        using (node.As("first"))
        {
            await node.Cache.SetAsync("over", 1, new CacheEntryOptions { LocalOnly = true }); // 21: this write scans
        }

        Assert.True(held > Bound, $"the three writes during the scan took the count to {held}"); // they did find it taken
        Assert.InRange(node.Internal.Memory.ApproximateCount, 1, Bound);
    }

    [Fact]
    public async Task Concurrent_writers_converge_to_the_memory_bound_once_they_stop()
    {
        const int Writers = 8;
        const int Rounds = 10;
        await using var node = CacheNode.Create(redis.ConnectionString, Unique.Prefix("memorybound", "concurrent"), o => o.MaxMemoryEntries = Bound);
        for (var round = 0; round < Rounds; round++)
        {
            var writers = Enumerable.Range(0, Writers).Select(w => Task.Run(async () =>
            {
                using var scope = node.As($"t{w % 3}");
                for (var i = 0; i < 5 * Bound; i++)
                {
                    await node.Cache.SetAsync($"r{round}-w{w}-{i}", i, new CacheEntryOptions { LocalOnly = true });
                }
            })).ToArray();
            await Task.WhenAll(writers).WaitAsync("the writers");

            var held = node.Internal.Memory.ApproximateCount;
            Assert.True(held is >= 1 and <= Bound, $"round {round}: {held} entries held once the writers stopped, bound {Bound}");
        }
    }
}
