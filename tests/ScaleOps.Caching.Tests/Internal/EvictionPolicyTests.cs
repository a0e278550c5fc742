using System;
using System.Linq;
using System.Threading.Tasks;
using Microsoft.Extensions.Logging;
using ScaleOps.Caching.Tests.Support;
using ScaleOps.TestInfrastructure;
using StackExchange.Redis;

namespace ScaleOps.Caching.Tests.Internal;

/// <summary>
/// A tenant's generation key has no expiry: it must outlive every entry written under an older generation. A Redis whose
/// maxmemory-policy may evict any key (allkeys-*) can drop it under memory pressure, and the entries a tenant invalidation
/// retired are then served again. The cache says so when it connects.
/// </summary>
public sealed class EvictionPolicyTests
{
    private static async Task<CacheNode> ConnectedNodeAsync(PrivateRedisServer server, string policy)
    {
        await using (var admin = await ConnectionMultiplexer.ConnectAsync($"{server.Endpoint},allowAdmin=true"))
        {
            await admin.GetServer(server.Endpoint).ConfigSetAsync("maxmemory-policy", policy);
        }

        var node = CacheNode.Create(server.Endpoint, Unique.Prefix("evict", policy), logs: true);
        using (node.As("acme"))
        {
            Assert.Equal("v", await node.Cache.GetOrSetAsync("k", _ => ValueTask.FromResult("v")));
        }

        await node.Internal.EvictionPolicyChecked.WaitAsync("the cache to read Redis' eviction policy");
        return node;
    }

    [Theory]
    [InlineData("allkeys-lru")]
    [InlineData("allkeys-lfu")]
    [InlineData("allkeys-random")]
    public async Task A_policy_that_may_evict_keys_without_expiry_is_warned_about_naming_it_and_the_server(string policy)
    {
        await using var server = await PrivateRedisServer.StartAsync();
        await using var node = await ConnectedNodeAsync(server, policy);

        var warning = Assert.Single(node.Logs.GetSnapshot(), r => r.Id.Id == 5011);
        Assert.Equal(LogLevel.Warning, warning.Level);
        Assert.Contains(policy, warning.Message, StringComparison.Ordinal);
        Assert.Contains(server.Port.ToString(System.Globalization.CultureInfo.InvariantCulture), warning.Message, StringComparison.Ordinal);
        Assert.Contains("generation", warning.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("noeviction")]
    [InlineData("volatile-lru")]
    [InlineData("volatile-ttl")]
    public async Task A_policy_that_never_evicts_keys_without_expiry_is_not_warned_about(string policy)
    {
        await using var server = await PrivateRedisServer.StartAsync();
        await using var node = await ConnectedNodeAsync(server, policy);

        Assert.DoesNotContain(node.Logs.GetSnapshot(), r => r.Id.Id == 5011);
    }
}
