using System;
using System.Linq;
using System.Threading.Tasks;
using ScaleOps.Caching.Tests.Support;
using ScaleOps.TestInfrastructure;

namespace ScaleOps.Caching.Tests;

/// <summary>
/// A write or load is voided only by invalidations that concern its key (its own removal, a tag, the tenant): never by
/// writes, fills or removals of the tenant's other keys, here or on another instance.
/// </summary>
public abstract partial class CacheSuite
{
    [Fact]
    public async Task Concurrent_writes_of_distinct_keys_of_one_tenant_all_stay_in_both_levels()
    {
        var prefix = Prefix();
        await using var node = Node(prefix);
        await using var reader = Node(prefix);
        var keys = Enumerable.Range(0, 64).Select(i => $"k{i}").ToArray();
        using (node.As("acme"))
        {
            await Task.WhenAll(keys.Select(k => Task.Run(async () =>
            {
                using var scope = node.As("acme");
                await node.Cache.SetAsync(k, "v-" + k, TenMinutes);
            })));

            Assert.Equal(keys.Select(k => "v-" + k), await Task.WhenAll(keys.Select(async k => (await node.Cache.TryGetAsync<string>(k)).Value)));
            Assert.Equal(0, node.Internal.Memory.Find("acme")!.WatchedKeys);
        }

        using (reader.As("acme"))
        {
            foreach (var k in keys)
            {
                Assert.Equal((CacheSource.Redis, "v-" + k), await reader.Cache.TryGetAsync<string>(k) is var r ? (r.Source, r.Value) : default);
            }
        }
    }

    [Fact]
    public async Task A_write_of_another_key_while_a_write_is_on_its_way_to_Redis_does_not_undo_it()
    {
        var prefix = Prefix();
        await using var node = Node(prefix);
        await using var reader = Node(prefix);
        using var scope = node.As("acme");
        var nested = new Counter();
        node.Internal.BeforeRedisWrite = async key =>
        {
            if (key == "a" && nested.Increment() == 1)
            {
                await node.Cache.SetAsync("b", "B", TenMinutes); // between the write's check and its SET
            }
        };

        await node.Cache.SetAsync("a", "A", TenMinutes);
        node.Internal.BeforeRedisWrite = null;
        Assert.Equal(1, nested.Value);
        Assert.Equal((CacheSource.Memory, "A"), await node.Cache.TryGetAsync<string>("a") is var a ? (a.Source, a.Value) : default);
        using (reader.As("acme"))
        {
            Assert.Equal("A", (await reader.Cache.TryGetAsync<string>("a")).Value);
            Assert.Equal("B", (await reader.Cache.TryGetAsync<string>("b")).Value);
        }
    }

    [Fact]
    public async Task A_load_in_flight_is_kept_when_another_instance_fills_another_key_or_this_one_removes_another_key()
    {
        var prefix = Prefix();
        await using var a = Node(prefix);
        await using var b = Node(prefix);
        using var scope = a.As("acme");
        Assert.False((await a.Cache.TryGetAsync<string>("y")).HasValue); // both connect (and subscribe)
        using (b.As("acme"))
        {
            Assert.False((await b.Cache.TryGetAsync<string>("y")).HasValue);
        }

        await BackplaneListeningAsync(prefix, 2);
        var runs = new Counter();
        var started = new TaskCompletionSource();
        var release = new TaskCompletionSource<string>();
        var slow = a.Cache.GetOrSetEntryAsync("y", async _ =>
        {
            runs.Increment();
            started.TrySetResult();
            return await release.Task;
        }, TenMinutes).AsTask();
        await started.Task.WaitAsync("the factory of y to start");

        var applied = a.Internal.BackplaneMessagesApplied;
        using (b.As("acme"))
        {
            await b.Cache.GetOrSetAsync("x", _ => ValueTask.FromResult("x1"), TenMinutes); // its write publishes key x
        }

        await TestSignal.UntilAsync(() => Task.FromResult(a.Internal.BackplaneMessagesApplied > applied), "A to hear B's fill of x");
        await a.Cache.RemoveAsync("unrelated");
        release.SetResult("y1");
        Assert.Equal("y1", (await slow).Value);

        var again = await a.Cache.GetOrSetEntryAsync("y", _ => { runs.Increment(); return ValueTask.FromResult("y2"); }, TenMinutes);
        Assert.Equal((CacheSource.Memory, "y1", 1), (again.Source, again.Value, runs.Value));
        using (b.As("acme"))
        {
            Assert.Equal("y1", (await b.Cache.TryGetAsync<string>("y")).Value);
        }

        Assert.Equal(0, a.Internal.Memory.Find("acme")!.WatchedKeys);
    }

    [Fact]
    public async Task A_load_in_flight_is_still_voided_by_a_removal_of_its_own_key_or_a_tag_removal()
    {
        var prefix = Prefix();
        await using var a = Node(prefix);
        await using var b = Node(prefix);
        using var scope = a.As("acme");
        foreach (var invalidate in new Func<Task>[] { () => a.Cache.RemoveAsync("k").AsTask(), () => a.Cache.RemoveByTagAsync("other-tag").AsTask() })
        {
            var started = new TaskCompletionSource();
            var release = new TaskCompletionSource<string>();
            var slow = a.Cache.GetOrSetEntryAsync("k", async _ =>
            {
                started.TrySetResult();
                return await release.Task;
            }, TenMinutes).AsTask();
            await started.Task.WaitAsync("the factory of k to start");
            await invalidate();
            release.SetResult("old");
            Assert.Equal("old", (await slow).Value); // the caller gets its result, nobody else does
            Assert.False(a.InMemory("acme", "k"));
            using (b.As("acme"))
            {
                Assert.False((await b.Cache.TryGetAsync<string>("k")).HasValue);
            }
        }
    }
}
