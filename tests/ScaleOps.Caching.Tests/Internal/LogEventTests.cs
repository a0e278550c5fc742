using System;
using System.Linq;
using System.Threading.Tasks;
using Microsoft.Extensions.Logging;
using ScaleOps.Caching.Internal;
using ScaleOps.Caching.Tests.Support;
using ScaleOps.TestInfrastructure;
using StackExchange.Redis;

namespace ScaleOps.Caching.Tests.Internal;

/// <summary>
/// "Logs use event ids 5001-5015": each id is logged, at its level, where its message says (5009, the maintenance
/// loop's own failure, has no practical trigger and is not covered here; 5011 is in EvictionPolicyTests, 5012 and 5013 in
/// CacheSuite.Generations, 5014 in CacheSuite.EagerRefresh, 5015 in RedisClockTests).
/// </summary>
public sealed class LogEventTests(SingleRedis redis) : IClassFixture<SingleRedis>
{
    private static Task LoggedAsync(CacheNode node, int id, string what) => TestSignal.UntilAsync(
        () => Task.FromResult(node.Logs.GetSnapshot().Any(r => r.Id.Id == id)), $"event {id} ({what})");

    private static Microsoft.Extensions.Logging.Testing.FakeLogRecord Single(CacheNode node, int id) =>
        Assert.Single(node.Logs.GetSnapshot(), r => r.Id.Id == id);

    [Fact]
    public async Task Factory_fail_safe_timeout_background_failure_unreadable_value_error_reply_and_bad_message_each_log_their_id()
    {
        var prefix = Unique.Prefix("logs", "ids");
        await using var node = CacheNode.Create(redis.ConnectionString, prefix, o => o.JitterFraction = 0, logs: true);
        var raw = await node.RawAsync();
        var tenant = RedisKeys.TenantPrefix(prefix, "acme");
        using var scope = node.As("acme");
        var briefly = new CacheEntryOptions { Expiration = TimeSpan.FromMilliseconds(1) };

        // 5003: a failing factory answered with the last good value.
        await node.Cache.SetAsync("stale", "old", briefly);
        await MetricsTests.ExpiredAsync(node, "stale");
        Assert.Equal("old", await node.Cache.GetOrSetAsync<string>("stale", _ => throw new InvalidOperationException("db down")));
        var failed = Single(node, 5003);
        Assert.Equal((LogLevel.Warning, "db down"), (failed.Level, failed.Exception?.Message));
        Assert.Contains("stale", failed.Message, StringComparison.Ordinal);

        // 5004 then 5008: slower than FactoryTimeout, then failing in the background.
        await node.Cache.SetAsync("slow", "old", briefly);
        await MetricsTests.ExpiredAsync(node, "slow");
        var gate = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        Assert.Equal("old", await node.Cache.GetOrSetAsync("slow", _ => new ValueTask<string>(gate.Task), new CacheEntryOptions { FactoryTimeout = TimeSpan.FromMilliseconds(1) }));
        Assert.Equal(LogLevel.Information, Single(node, 5004).Level);
        Assert.DoesNotContain(node.Logs.GetSnapshot(), r => r.Id.Id == 5008);
        gate.SetException(new InvalidOperationException("late"));
        await LoggedAsync(node, 5008, "the background factory's failure");
        Assert.Equal((LogLevel.Warning, "late"), (Single(node, 5008).Level, Single(node, 5008).Exception?.Message));

        // 5005: a Redis value that is not a cache payload.
        var generation = await Generations.OfAsync(raw, prefix, "acme");
        await raw.StringSetAsync(RedisKeys.Value(tenant, generation, "garbled"), "written by another app");
        Assert.False((await node.Cache.TryGetAsync<string>("garbled")).HasValue);
        Assert.Equal(LogLevel.Warning, Single(node, 5005).Level);

        // 5010: an error reply about one key.
        await raw.HashSetAsync(RedisKeys.Value(tenant, generation, "wrong"), "f", "another app's hash");
        Assert.Equal("loaded", await node.Cache.GetOrSetAsync("wrong", _ => ValueTask.FromResult("loaded")));
        var reply = node.Logs.GetSnapshot().First(r => r.Id.Id == 5010);
        Assert.Equal(LogLevel.Warning, reply.Level);
        Assert.Contains("wrong", reply.Message, StringComparison.Ordinal);

        // 5006: a malformed backplane message (debug level), once the subscription is live.
        var channel = RedisChannel.Literal(RedisKeys.Channel(prefix));
        await TestSignal.UntilAsync(async () =>
        {
            await raw.PublishAsync(channel, "not a backplane message");
            return node.Logs.GetSnapshot().Any(r => r.Id.Id == 5006);
        }, "event 5006 (a malformed backplane message)");
        Assert.All(node.Logs.GetSnapshot().Where(r => r.Id.Id == 5006), r => Assert.Equal(LogLevel.Debug, r.Level));

        Assert.DoesNotContain(node.Logs.GetSnapshot(), r => r.Id.Id is 5001 or 5002 or 5007 or 5009 or 5011 or 5012 or 5013 or 5014);
        Assert.All(node.Logs.GetSnapshot().Where(r => r.Category?.StartsWith("ScaleOps.Caching", StringComparison.Ordinal) == true), r => Assert.InRange(r.Id.Id, 5001, 5014));
    }

    [Fact]
    public async Task An_outage_logs_5001_and_its_end_5002_then_the_replay_5007()
    {
        await using var server = await PrivateRedisServer.StartAsync();
        var prefix = Unique.Prefix("logs", "outage");
        await using var node = CacheNode.Create(server.Endpoint, prefix, o =>
        {
            o.RedisTimeout = TimeSpan.FromSeconds(1);
            o.BreakerDuration = TimeSpan.FromMilliseconds(200);
        }, logs: true);
        using var scope = node.As("acme");
        await TestSignal.UntilAsync(async () =>
        {
            await node.Internal.MaintainAsync();
            await node.Cache.SetAsync("doc", "v1");
            return node.Cache.GetStatus() is { RedisAvailable: true, PendingInvalidations: 0 };
        }, "the cache to write through Redis");
        node.Logs.Clear();

        await server.StopAsync();
        await node.Cache.RemoveAsync("doc"); // queued
        await LoggedAsync(node, 5001, "Redis unavailable");
        Assert.Equal(LogLevel.Warning, node.Logs.GetSnapshot().First(r => r.Id.Id == 5001).Level);
        Assert.DoesNotContain(node.Logs.GetSnapshot(), r => r.Id.Id is 5002 or 5007);

        await server.RestartAsync();
        await TestSignal.UntilAsync(async () =>
        {
            await node.Internal.MaintainAsync();
            return node.Cache.GetStatus() is { RedisAvailable: true, PendingInvalidations: 0 };
        }, "the queued removal to be replayed");
        await LoggedAsync(node, 5002, "Redis restored");
        await LoggedAsync(node, 5007, "invalidations replayed");
        Assert.Equal(LogLevel.Information, node.Logs.GetSnapshot().First(r => r.Id.Id == 5002).Level);
        Assert.Contains("Replayed 1 ", node.Logs.GetSnapshot().First(r => r.Id.Id == 5007).Message, StringComparison.Ordinal);
    }
}
