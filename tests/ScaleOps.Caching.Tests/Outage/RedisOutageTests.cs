using System;
using System.Threading;
using System.Threading.Tasks;
using ScaleOps.Caching.Internal;
using ScaleOps.Caching.Tests.Support;
using ScaleOps.TestInfrastructure;
using StackExchange.Redis;

namespace ScaleOps.Caching.Tests.Outage;

/// <summary>
/// Redis going away and coming back, on a private redis-server that each test starts, stops, pauses and restarts by its
/// own PID (never the shared server).
/// </summary>
public sealed class RedisOutageTests
{
    private static CacheNode Node(PrivateRedisServer redis, string prefix) => CacheNode.Create(redis.Endpoint, prefix, o =>
    {
        o.RedisTimeout = TimeSpan.FromSeconds(1);
        o.BreakerDuration = TimeSpan.FromMilliseconds(200);
    });

    private static Task Until(Func<Task<bool>> condition, string what) => TestSignal.UntilAsync(condition, what, TimeSpan.FromSeconds(30));

    /// <summary>
    /// Waits until every instance holds a connected client with its breaker closed: a fresh client's first connect may
    /// exceed the 1 s timeout on a loaded machine, and the cache then works from memory until its breaker lets it retry.
    /// </summary>
    private static Task ConnectedAsync(params CacheNode[] nodes) => Until(async () =>
    {
        var ready = true;
        foreach (var node in nodes)
        {
            await node.Internal.MaintainAsync(); // probes Redis once the breaker allows
            ready &= await node.Internal.Redis.TryGetDatabaseAsync() is not null;
        }

        return ready;
    }, "every cache instance to connect to Redis");

    /// <summary>
    /// Writes <paramref name="value"/> through <paramref name="writer"/> until <paramref name="reader"/> reads it from
    /// Redis. A call that times out (1 s here, which a machine running every test suite at once can exceed) opens that
    /// instance's breaker and works from memory: the loop lets the breakers close, replays what was queued, and tries again.
    /// </summary>
    private static Task WrittenToRedisAsync(CacheNode writer, CacheNode reader, string key, string value) => Until(async () =>
    {
        await writer.Internal.MaintainAsync();
        await reader.Internal.MaintainAsync();
        await writer.Cache.SetAsync(key, value);
        return writer.Cache.GetStatus().PendingInvalidations == 0
            && ToTuple(await reader.Cache.TryGetAsync<string>(key)) == (CacheSource.Redis, value);
    }, $"{key} = {value} to reach Redis and be read there by the other instance");

    [Fact]
    public async Task While_Redis_is_down_the_cache_serves_and_fills_memory_without_throwing_then_resumes()
    {
        await using var redis = await PrivateRedisServer.StartAsync();
        var prefix = Unique.Prefix("outage", nameof(While_Redis_is_down_the_cache_serves_and_fills_memory_without_throwing_then_resumes));
        await using var node = Node(redis, prefix);
        await ConnectedAsync(node);
        using var fallbacks = node.Collect("scaleops.cache.fallbacks");
        using var scope = node.As("acme");
        Assert.Equal(CacheSource.Factory, (await node.Cache.GetOrSetEntryAsync("hot", _ => ValueTask.FromResult("v1"))).Source);
        await Until(async () =>
        {
            // A write that timed out on a loaded machine opened the breaker for a moment; when the probe finds Redis
            // again the cache empties its memory (invalidations may have been missed), so read "hot" back into it.
            await node.Internal.MaintainAsync();
            await node.Cache.GetOrSetEntryAsync("hot", _ => ValueTask.FromResult("v1"));
            return node.Cache.GetStatus().RedisAvailable && node.InMemory("acme", "hot");
        }, "the cache to use Redis before the outage, with hot in memory");

        await redis.StopAsync();

        var hot = node.Cache.GetOrSetEntryAsync("hot", _ => ValueTask.FromResult("v2"));
        Assert.True(hot.IsCompletedSuccessfully, "a memory hit waited on the stopped Redis");
#pragma warning disable xUnit1031 // completed synchronously (checked first)
        Assert.Equal(CacheSource.Memory, hot.Result.Source);
#pragma warning restore xUnit1031
        var miss = await node.Cache.GetOrSetEntryAsync("cold", _ => ValueTask.FromResult("c1"));
        Assert.Equal((CacheSource.Factory, "c1"), (miss.Source, miss.Value));
        Assert.Equal(CacheSource.Memory, (await node.Cache.GetOrSetEntryAsync("cold", _ => ValueTask.FromResult("c2"))).Source);
        await node.Cache.SetAsync("written", 1);
        await node.Cache.RemoveAsync("hot");
        await node.Cache.RemoveByTagAsync("docs");
        await node.Cache.InvalidateTenantAsync();
        Assert.False((await node.Cache.TryGetAsync<string>("nothing")).HasValue);

        var status = node.Cache.GetStatus();
        Assert.True(status.IsDegraded);
        Assert.NotNull(status.LastRedisError);
        Assert.True(status.PendingInvalidations > 0);
        Assert.Contains(fallbacks.GetMeasurementSnapshot(), m => m.Tags["reason"] as string == "redis_unavailable");

        await redis.RestartAsync();
        await Until(async () =>
        {
            await node.Internal.MaintainAsync();
            return node.Cache.GetStatus() is { RedisAvailable: true, PendingInvalidations: 0 };
        }, "the cache to use Redis again and replay its invalidations");

        await using var other = Node(redis, prefix);
        await ConnectedAsync(other);
        using var otherScope = other.As("acme");
        await WrittenToRedisAsync(node, other, "after", "a1");
    }

    [Fact]
    public async Task After_a_hang_the_cache_uses_Redis_again_although_every_read_is_a_memory_hit()
    {
        await using var redis = await PrivateRedisServer.StartAsync();
        var prefix = Unique.Prefix("outage", nameof(After_a_hang_the_cache_uses_Redis_again_although_every_read_is_a_memory_hit));
        await using var node = Node(redis, prefix);
        await ConnectedAsync(node);
        using var scope = node.As("acme");
        await Until(async () =>
        {
            await node.Cache.SetAsync("hot", "v1");
            return node.Cache.GetStatus().RedisAvailable && node.InMemory("acme", "hot");
        }, "the cache to write through Redis");

        await redis.PauseAsync();
        await Until(async () =>
        {
            await node.Cache.TryGetAsync<string>("cold");
            return !node.Cache.GetStatus().RedisAvailable;
        }, "a miss to time out and open the cache's breaker");
        Assert.Equal(CacheSource.Memory, (await node.Cache.TryGetAsync<string>("hot")).Source);

        // From here on the service only hits memory, which never touches Redis: the maintenance pass must probe it.
        await redis.ResumeAsync();
        await Until(async () =>
        {
            await node.Internal.MaintainAsync();
            return node.Cache.GetStatus().RedisAvailable;
        }, "maintenance to probe Redis and close the breaker");
    }

    [Fact]
    public async Task After_a_restart_no_instance_serves_an_entry_invalidated_during_the_outage()
    {
        await using var redis = await PrivateRedisServer.StartAsync();
        var prefix = Unique.Prefix("outage", nameof(After_a_restart_no_instance_serves_an_entry_invalidated_during_the_outage));
        await using var a = Node(redis, prefix);
        await using var b = Node(redis, prefix);
        await ConnectedAsync(a, b);
        using var scopeA = a.As("acme");
        using var scopeB = b.As("acme");

        // B writes v1 itself (its own write's message never evicts its memory copy; a read of another instance's write
        // could be followed by that write's message and lose its copy), and A reads it from Redis.
        await WrittenToRedisAsync(b, a, "doc", "v1");
        Assert.True(b.InMemory("acme", "doc"));

        await redis.StopAsync();
        await a.Cache.RemoveAsync("doc");
        Assert.Equal("v1", (await b.Cache.TryGetAsync<string>("doc")).Value); // B cannot know yet: memory still serves it.
        await redis.RestartAsync();

        await Until(async () =>
        {
            await a.Internal.MaintainAsync();
            return a.Cache.GetStatus().PendingInvalidations == 0 && !b.InMemory("acme", "doc");
        }, "A to replay its removal and B to drop its memory copy on reconnect");
        var read = await b.Cache.GetOrSetEntryAsync("doc", _ => ValueTask.FromResult("v2"));
        Assert.Equal((CacheSource.Factory, "v2"), (read.Source, read.Value));
    }

    [Fact]
    public async Task Invalidations_made_while_Redis_hangs_are_replayed_and_reach_the_other_instances()
    {
        await using var redis = await PrivateRedisServer.StartAsync();
        var prefix = Unique.Prefix("outage", nameof(Invalidations_made_while_Redis_hangs_are_replayed_and_reach_the_other_instances));
        await using var a = Node(redis, prefix);
        await using var b = Node(redis, prefix);
        await ConnectedAsync(a, b);
        using var bFallbacks = b.Collect("scaleops.cache.fallbacks");
        // B writes both tenants' values itself (its own write is never invalidated by its own message) and keeps them in
        // memory. Its fresh connection's first calls may time out on a loaded machine: write both again until both
        // writes reached Redis without a fallback in one pass (a later recovery empties B's memory, both tenants' alike;
        // the outage under test starts only below).
        await Until(async () =>
        {
            var before = bFallbacks.GetMeasurementSnapshot().Count;
            foreach (var tenant in new[] { "acme", "globex" })
            {
                using var scopeB = b.As(tenant);
                await b.Cache.SetAsync("doc", tenant + "-v1");
            }

            return bFallbacks.GetMeasurementSnapshot().Count == before && b.Cache.GetStatus().RedisAvailable
                && b.InMemory("acme", "doc") && b.InMemory("globex", "doc");
        }, "B to write both tenants' values through Redis");

        using var aFallbacks = a.Collect("scaleops.cache.fallbacks");
        await Until(async () =>
        {
            var before = aFallbacks.GetMeasurementSnapshot().Count;
            using (a.As("acme"))
            {
                await a.Cache.TryGetAsync<string>("doc");
            }

            return aFallbacks.GetMeasurementSnapshot().Count == before && a.Cache.GetStatus().RedisAvailable;
        }, "A to reach Redis before the outage");

        var raw = await a.RawAsync();
        var globexGeneration = await Generations.OfAsync(raw, prefix, "globex");
        await redis.PauseAsync();
        using (a.As("acme"))
        {
            // A read sent to the hung server times out: a Redis error, answered by the factory.
            Assert.Equal(CacheSource.Factory, (await a.Cache.GetOrSetEntryAsync("y", _ => ValueTask.FromResult(1))).Source);
            Assert.Contains(aFallbacks.GetMeasurementSnapshot(), m => m.Tags["reason"] as string == "redis_error");
            await a.Cache.RemoveAsync("doc");
            Assert.Equal(CacheSource.Factory, (await a.Cache.GetOrSetEntryAsync("x", _ => ValueTask.FromResult(1))).Source);
        }

        using (a.As("globex"))
        {
            await a.Cache.InvalidateTenantAsync();
        }

        Assert.True(a.Cache.GetStatus().PendingInvalidations >= 2);
        using (b.As("acme"))
        {
            // A hang never blocks a memory hit: answered before the call returns.
            var hit = b.Cache.TryGetAsync<string>("doc");
            Assert.True(hit.IsCompletedSuccessfully, "a memory hit waited on the paused Redis");
#pragma warning disable xUnit1031 // completed synchronously (checked first)
            Assert.Equal(CacheSource.Memory, hit.Result.Source);
#pragma warning restore xUnit1031
        }

        await redis.ResumeAsync();
        await Until(async () =>
        {
            await a.Internal.MaintainAsync();
            return a.Cache.GetStatus().PendingInvalidations == 0 && !b.InMemory("acme", "doc") && !b.InMemory("globex", "doc");
        }, "A's queued invalidations to be replayed and to reach B");

        foreach (var tenant in new[] { "acme", "globex" })
        {
            using var scope = b.As(tenant);
            var read = await b.Cache.GetOrSetEntryAsync("doc", _ => ValueTask.FromResult(tenant + "-v2"));
            Assert.Equal((CacheSource.Factory, tenant + "-v2"), (read.Source, read.Value));
        }

        Assert.Equal(globexGeneration + 1, await Generations.OfAsync(await a.RawAsync(), prefix, "globex")); // a fresh connection
    }

    [Fact]
    public async Task A_removal_queued_during_an_outage_is_not_undone_by_reads_before_its_replay_nor_kept_in_memory_after_it()
    {
        await using var redis = await PrivateRedisServer.StartAsync(persistent: true); // comes back with its data
        var prefix = Unique.Prefix("outage", nameof(A_removal_queued_during_an_outage_is_not_undone_by_reads_before_its_replay_nor_kept_in_memory_after_it));
        await using var node = Node(redis, prefix);
        await ConnectedAsync(node);
        var tenant = RedisKeys.TenantPrefix(prefix, "acme");
        RedisKey valueKey = default;
        using var scope = node.As("acme");
        var before = await node.RawAsync();
        await Until(async () =>
        {
            await node.Internal.MaintainAsync(); // a write that timed out on a loaded machine stayed in memory: again
            await node.Cache.SetAsync("doc", "v1");
            var generation = await before.StringGetAsync(RedisKeys.Generation(tenant));
            valueKey = RedisKeys.Value(tenant, generation.IsNull ? -1 : (long)generation, "doc");
            return node.Cache.GetStatus().RedisAvailable && !generation.IsNull && await before.KeyExistsAsync(valueKey);
        }, "v1 to reach Redis");

        await redis.StopAsync();
        await node.Cache.RemoveAsync("doc"); // queued for replay
        Assert.Equal(1, node.Cache.GetStatus().PendingInvalidations);
        await redis.RestartAsync();
        var raw = await node.RawAsync();
        Assert.True(await raw.KeyExistsAsync(valueKey)); // v1 is back in Redis: its removal waits for replay

        // Another caller is replaying the queue (it holds the gate) while this instance reconnects and reads.
        await node.Internal.ReplayGate.WaitAsync();
        try
        {
            await Until(() => Task.FromResult(node.Cache.GetStatus().RedisAvailable), "the cache to reconnect");
            var read = await node.Cache.TryGetAsync<string>("doc");
            Assert.False(read.HasValue, $"read {read.Value} from {read.Source} while its removal waited for replay");
            var loaded = await node.Cache.GetOrSetEntryAsync("doc", _ => ValueTask.FromResult("v2"), new CacheEntryOptions { LocalExpiration = TimeSpan.Zero });
            Assert.Equal((CacheSource.Factory, "v2"), (loaded.Source, loaded.Value));
            Assert.False(node.InMemory("acme", "doc"));
        }
        finally
        {
            node.Internal.ReplayGate.Release();
        }

        // No maintenance pass: a read replays the removal itself before it reads Redis (retried only because the
        // client's second connection may report its reconnect late and close the cache's breaker for a moment).
        await Until(async () =>
        {
            var after = await node.Cache.TryGetAsync<string>("doc");
            Assert.False(after.HasValue, $"read {after.Value} from {after.Source} around the replay");
            return node.Cache.GetStatus().PendingInvalidations == 0;
        }, "a read to replay the queued removal");
        Assert.False(await raw.KeyExistsAsync(valueKey));
        Assert.False(node.InMemory("acme", "doc"));
    }

    [Fact]
    public async Task A_value_set_while_Redis_is_down_never_gives_way_to_the_older_value_Redis_comes_back_with()
    {
        await using var redis = await PrivateRedisServer.StartAsync(persistent: true); // comes back with its data
        var prefix = Unique.Prefix("outage", nameof(A_value_set_while_Redis_is_down_never_gives_way_to_the_older_value_Redis_comes_back_with));
        await using var a = Node(redis, prefix);
        await using var b = Node(redis, prefix);
        await ConnectedAsync(a, b);
        using var scopeA = a.As("acme");
        using var scopeB = b.As("acme");
        await WrittenToRedisAsync(a, b, "doc", "v1");
        var raw = await a.RawAsync();
        var valueKey = RedisKeys.Value(RedisKeys.TenantPrefix(prefix, "acme"), await Generations.OfAsync(raw, prefix, "acme"), "doc");
        Assert.True(await raw.KeyExistsAsync(valueKey));

        await redis.StopAsync();
        await a.Cache.SetAsync("doc", "v2"); // memory only: Redis keeps v1
        Assert.Equal((CacheSource.Memory, "v2"), ToTuple(await a.Cache.TryGetAsync<string>("doc")));
        Assert.Equal(1, a.Cache.GetStatus().PendingInvalidations); // the deletion of v1, for when Redis returns
        await redis.RestartAsync();

        await Until(async () =>
        {
            await a.Internal.MaintainAsync();
            return a.Cache.GetStatus() is { RedisAvailable: true, PendingInvalidations: 0 } && !b.InMemory("acme", "doc");
        }, "A to reconnect and replay its queue, and B to drop its memory copy (on reconnect, or by A's replayed message)");
        foreach (var node in new[] { a, b })
        {
            var read = await node.Cache.TryGetAsync<string>("doc");
            Assert.True(!read.HasValue || read.Value == "v2", $"read {read.Value} from {read.Source}");
        }

        Assert.False(await (await a.RawAsync()).KeyExistsAsync(valueKey)); // a fresh connection: the first one saw Redis stop
    }

    [Fact]
    public async Task Fail_safe_never_brings_back_a_value_removed_after_its_stale_copy_was_picked_up()
    {
        var time = new Microsoft.Extensions.Time.Testing.FakeTimeProvider();
        await using var redis = await PrivateRedisServer.StartAsync();
        var prefix = Unique.Prefix("outage", nameof(Fail_safe_never_brings_back_a_value_removed_after_its_stale_copy_was_picked_up));
        await using var node = CacheNode.Create(redis.Endpoint, prefix, o =>
        {
            o.RedisTimeout = TimeSpan.FromSeconds(1);
            o.BreakerDuration = TimeSpan.FromMilliseconds(200); // of the fake clock, which stays put: open once tripped
        }, time);
        using var scope = node.As("acme");
        var tenMinutes = new CacheEntryOptions { Expiration = TimeSpan.FromMinutes(10) };
        await node.Cache.GetOrSetAsync("k", _ => ValueTask.FromResult("good"), tenMinutes);
        time.Advance(TimeSpan.FromMinutes(12)); // stale in memory and in Redis, within the fail-safe window
        Func<CancellationToken, ValueTask<string>> failing = _ => throw new InvalidOperationException("database down");

        // The call picks up the stale memory copy and waits on its Redis GET (the server is frozen): the slow path
        // between picking up the stale copy and the load. The removal lands there.
        await redis.PauseAsync();
        var call = node.Cache.GetOrSetEntryAsync("k", failing, tenMinutes).AsTask();
        var removal = node.Cache.RemoveAsync("k").AsTask(); // drops the memory copy at once; its DEL waits too
        Assert.False(node.InMemory("acme", "k"));

        // The GET times out, the load runs the factory from memory alone, the factory fails: the removed copy must
        // neither come back into memory (where the throttle would serve it to everyone) nor answer this call.
        var outcome = await Record.ExceptionAsync(() => call.WaitAsync("the load to fail"));
        Assert.False(node.InMemory("acme", "k"), "fail-safe stored the removed value in memory again");
        Assert.Equal("database down", Assert.IsType<InvalidOperationException>(outcome).Message);
        await removal.WaitAsync("the removal to be queued");
        await Assert.ThrowsAsync<InvalidOperationException>(async () => await node.Cache.GetOrSetAsync("k", failing, tenMinutes));
        await redis.ResumeAsync();
    }

    private static (CacheSource, T) ToTuple<T>(CacheResult<T> result) => (result.Source, result.Value);
}
