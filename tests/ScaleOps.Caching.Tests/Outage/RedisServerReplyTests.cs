using System;
using System.Threading.Tasks;
using ScaleOps.Caching.Tests.Support;
using ScaleOps.TestInfrastructure;
using StackExchange.Redis;

namespace ScaleOps.Caching.Tests.Outage;

/// <summary>
/// Error replies about the server as a whole (here OOM: maxmemory reached) still count as Redis being unavailable, unlike
/// errors about one key (<see cref="CacheSuite"/>); on a private redis-server, stopped by its own PID.
/// </summary>
public sealed class RedisServerReplyTests
{
    [Fact]
    public async Task A_server_out_of_memory_opens_the_breaker_and_the_cache_works_from_memory()
    {
        await using var redis = await PrivateRedisServer.StartAsync();
        var prefix = Unique.Prefix("reply", nameof(A_server_out_of_memory_opens_the_breaker_and_the_cache_works_from_memory));
        await using var node = CacheNode.Create(redis.Endpoint, prefix, o => o.BreakerDuration = TimeSpan.FromMinutes(1));
        using var scope = node.As("acme");
        await node.Cache.SetAsync("before", "b");
        Assert.True(node.Cache.GetStatus().RedisAvailable, node.Cache.GetStatus().LastRedisError);

        await using (var admin = await ConnectionMultiplexer.ConnectAsync(redis.Endpoint + ",allowAdmin=true"))
        {
            await admin.GetServer(redis.Endpoint).ConfigSetAsync("maxmemory", "1"); // every write is refused with OOM
        }

        await node.Cache.SetAsync("k", "v");

        var status = node.Cache.GetStatus();
        Assert.False(status.RedisAvailable, "an OOM reply did not open the breaker");
        Assert.StartsWith("OOM", status.LastRedisError, StringComparison.Ordinal);
        Assert.Equal("v", (await node.Cache.TryGetAsync<string>("k")).Value);
    }
}
