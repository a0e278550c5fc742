using System;
using System.Linq;
using System.Threading.Tasks;
using Microsoft.Extensions.Logging;
using ScaleOps.Caching.Tests.Support;
using ScaleOps.TestInfrastructure;
using StackExchange.Redis;

namespace ScaleOps.Caching.Tests.Internal;

/// <summary>
/// A Redis that evicts keys under memory pressure (any maxmemory-policy but noeviction) may drop a tag's index, and a tag
/// removal then misses the values it listed until they expire. The cache reads the policy when it connects and says so
/// once a tag is used. (A generation key evicted is harmless: <c>GenerationEpochTests</c>.)
/// </summary>
public sealed class EvictionPolicyTests
{
    private static readonly CacheEntryOptions Tagged = new() { Tags = ["docs"] };

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
    [InlineData("volatile-lru")]
    [InlineData("volatile-ttl")]
    public async Task A_policy_that_may_evict_keys_is_warned_about_once_a_tag_is_used_naming_it_and_the_server(string policy)
    {
        await using var server = await PrivateRedisServer.StartAsync();
        await using var node = await ConnectedNodeAsync(server, policy);
        Assert.DoesNotContain(node.Logs.GetSnapshot(), r => r.Id.Id == 5011); // no tag yet: nothing at risk

        using (node.As("acme"))
        {
            await node.Cache.SetAsync("doc", "v", Tagged);
            await node.Cache.RemoveByTagAsync("docs");
        }

        var warning = Assert.Single(node.Logs.GetSnapshot(), r => r.Id.Id == 5011);
        Assert.Equal(LogLevel.Warning, warning.Level);
        Assert.Contains(policy, warning.Message, StringComparison.Ordinal);
        Assert.Contains(server.Port.ToString(System.Globalization.CultureInfo.InvariantCulture), warning.Message, StringComparison.Ordinal);
        Assert.Contains("tag", warning.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Noeviction_is_not_warned_about_even_with_tags()
    {
        await using var server = await PrivateRedisServer.StartAsync();
        await using var node = await ConnectedNodeAsync(server, "noeviction");
        using (node.As("acme"))
        {
            await node.Cache.SetAsync("doc", "v", Tagged);
            await node.Cache.RemoveByTagAsync("docs");
        }

        Assert.DoesNotContain(node.Logs.GetSnapshot(), r => r.Id.Id == 5011);
    }
}
