using System;
using System.Collections.Generic;
using System.Linq;
using ScaleOps.Caching.Internal;

namespace ScaleOps.Caching.Tests.Internal;

public class RedisKeysTests
{
    private static readonly string[] Pieces = ["a", "b", ":", "{", "}", "%", "%7D", "%25", "v0", ":k:", ":z:", "gen", "{a}", "}:", " ", "é"];

    [Fact]
    public void No_two_tenant_key_pairs_map_to_the_same_Redis_key()
    {
        var tenants = Pieces.Where(p => p.Trim().Length == p.Length).SelectMany(x => Pieces.Select(y => x + y)).Where(t => t.Trim() == t).Distinct().ToList();
        var keys = Pieces.SelectMany(x => Pieces.Select(y => x + y)).Distinct().ToList();
        var seen = new Dictionary<string, (string, string)>(StringComparer.Ordinal);
        foreach (var tenant in tenants)
        {
            var prefix = RedisKeys.TenantPrefix("app", tenant);
            foreach (var key in keys)
            {
                foreach (var redisKey in new[] { RedisKeys.Value(prefix, 0, key), RedisKeys.Tag(prefix, 0, key), RedisKeys.LegacyTag(prefix, 0, key), RedisKeys.Lock(prefix, 0, key) })
                {
                    Assert.True(seen.TryAdd(redisKey, (tenant, key)), $"{redisKey} collides: ({tenant}, {key}) and {seen.GetValueOrDefault(redisKey)}");
                }
            }

            Assert.True(seen.TryAdd(RedisKeys.Generation(prefix), (tenant, "gen")));
        }

        Assert.True(seen.Count > 10_000);
    }

    [Theory]
    [InlineData("acme", "app:{acme}:")]
    [InlineData("a}b", "app:{a%7Db}:")]
    [InlineData("{x}", "app:{%7Bx%7D}:")]
    [InlineData("50%", "app:{50%25}:")]
    public void Every_key_of_a_tenant_carries_the_tenant_as_its_cluster_hash_tag(string tenant, string expected)
    {
        var prefix = RedisKeys.TenantPrefix("app", tenant);
        Assert.Equal(expected, prefix);
        var tag = HashTag(RedisKeys.Value(prefix, 3, "}{weird"));
        Assert.Equal(tag, HashTag(RedisKeys.Tag(prefix, 3, "t")));
        Assert.Equal(tag, HashTag(RedisKeys.LegacyTag(prefix, 3, "t")));
        Assert.Equal(tag, HashTag(RedisKeys.Generation(prefix)));
        Assert.Equal(expected[5..^2], tag);
    }

    [Theory]
    [InlineData("acme", "doc:1", 0)]
    [InlineData("a}b", "}{weird", 12)]
    [InlineData("é%", "clé:ü", 3)]
    public void The_cached_value_key_bytes_give_the_same_key_as_the_string_layout(string tenant, string key, long generation)
    {
        var prefix = RedisKeys.TenantPrefix("app", tenant);
        var bucket = new ScaleOps.Caching.Internal.L1.TenantBucket(tenant, prefix);
        Assert.Equal(RedisKeys.Value(prefix, generation, key), (string?)bucket.ValueKey(generation, key));
        Assert.Equal(RedisKeys.Value(prefix, generation + 1, key), (string?)bucket.ValueKey(generation + 1, key)); // a new generation, new bytes
        Assert.Equal(RedisKeys.Value(prefix, generation, key), (string?)bucket.ValueKey(generation, key));
    }

    private static string HashTag(string key)
    {
        var open = key.IndexOf('{', StringComparison.Ordinal);
        var close = key.IndexOf('}', open + 1);
        return key[(open + 1)..close];
    }
}
