using System;
using System.Linq;
using System.Runtime.CompilerServices;
using System.Threading;
using System.Threading.Tasks;
using Microsoft.Extensions.Time.Testing;
using ScaleOps.Caching.Tests.Support;
using ScaleOps.Tenancy;

namespace ScaleOps.Caching.Tests;

public abstract partial class CacheSuite
{
    [Fact]
    public async Task Removing_a_tag_removes_the_tagged_entries_of_the_tenant_on_every_instance()
    {
        var prefix = Prefix();
        await using var a = Node(prefix);
        await using var b = Node(prefix);
        var tagged = new CacheEntryOptions { Tags = ["docs"] };
        foreach (var node in new[] { a, b })
        {
            using var scope = node.As("acme");
            await node.Cache.GetOrSetAsync("doc:1", _ => ValueTask.FromResult("one"), tagged);
            await node.Cache.GetOrSetAsync("doc:2", _ => ValueTask.FromResult("two"), tagged);
            await node.Cache.GetOrSetAsync("user:1", _ => ValueTask.FromResult("ann"));
        }

        using (a.As("other"))
        {
            await a.Cache.SetAsync("doc:1", "other's", tagged);
        }

        await BackplaneListeningAsync(prefix, 2);

        using (a.As("acme"))
        {
            await a.Cache.RemoveByTagAsync("docs");
        }

        await TestSignalUntil(() => !b.InMemory("acme", "doc:1") && !b.InMemory("acme", "doc:2"), "instance B to drop the tagged entries");
        using (b.As("acme"))
        {
            Assert.False((await b.Cache.TryGetAsync<string>("doc:1")).HasValue);
            Assert.False((await b.Cache.TryGetAsync<string>("doc:2")).HasValue);
            Assert.Equal("ann", (await b.Cache.TryGetAsync<string>("user:1")).Value);
        }

        using (b.As("other"))
        {
            Assert.Equal("other's", (await b.Cache.TryGetAsync<string>("doc:1")).Value);
        }
    }

    [Fact]
    public async Task A_tag_written_again_and_again_keeps_only_its_live_values_in_Redis()
    {
        var prefix = Prefix();
        await using var node = Node(prefix, o => o.JitterFraction = 0);
        using var scope = node.As("acme");
        var raw = await node.RawAsync();
        var tenant = ScaleOps.Caching.Internal.RedisKeys.TenantPrefix(prefix, "acme");
        var lasting = new CacheEntryOptions { Expiration = TimeSpan.FromMinutes(10), Tags = ["docs"] };
        var brief = new CacheEntryOptions { Expiration = TimeSpan.FromMilliseconds(50), FailSafe = false, Tags = ["docs"] };
        await node.Cache.SetAsync("list", "l", lasting); // keeps the tag's set alive for 10 minutes
        var generation = await Support.Generations.OfAsync(raw, prefix, "acme");
        var index = ScaleOps.Caching.Internal.RedisKeys.Tag(tenant, generation, "docs");
        Assert.True(await raw.KeyExistsAsync(ScaleOps.Caching.Internal.RedisKeys.Value(tenant, generation, "list")));
        for (var i = 0; i < 200; i++)
        {
            await node.Cache.SetAsync($"doc:{i}", i, brief);
        }

        await ScaleOps.TestInfrastructure.TestSignal.UntilAsync(
            async () => !await raw.KeyExistsAsync(ScaleOps.Caching.Internal.RedisKeys.Value(tenant, generation, "doc:199")), "the brief values to expire in Redis");
        long members = -1;
        try
        {
            await ScaleOps.TestInfrastructure.TestSignal.UntilAsync(async () =>
            {
                await node.Cache.SetAsync("count", 1, lasting); // a write of the tag: it drops the members that expired
                members = await TagMembersAsync(raw, tenant, generation, "docs");
                return members == 2;
            }, "the tag's set to hold only its 2 live values", TimeSpan.FromSeconds(10));
        }
        catch (TimeoutException)
        {
            Assert.Fail($"The tag's set in Redis still holds {members} members, 2 of them live.");
        }

        Assert.Equal(StackExchange.Redis.RedisType.SortedSet, await raw.KeyTypeAsync(index));

        await node.Cache.RemoveByTagAsync("docs");
        Assert.False(await raw.KeyExistsAsync(ScaleOps.Caching.Internal.RedisKeys.Value(tenant, generation, "list")));
        Assert.False(await raw.KeyExistsAsync(ScaleOps.Caching.Internal.RedisKeys.Value(tenant, generation, "count")));
        Assert.False(await raw.KeyExistsAsync(index));
    }

    [Fact]
    public async Task Values_in_a_tag_set_written_by_an_older_version_are_still_removed_by_tag()
    {
        var prefix = Prefix();
        await using var node = Node(prefix);
        using var scope = node.As("acme");
        var raw = await node.RawAsync();
        var tenant = ScaleOps.Caching.Internal.RedisKeys.TenantPrefix(prefix, "acme");
        await node.Cache.SetAsync("old", "o"); // as an older instance would have written it: value, then SADD
        var generation = await Support.Generations.OfAsync(raw, prefix, "acme");
        await raw.SetAddAsync(ScaleOps.Caching.Internal.RedisKeys.LegacyTag(tenant, generation, "docs"), ScaleOps.Caching.Internal.RedisKeys.Value(tenant, generation, "old"));
        await node.Cache.SetAsync("new", "n", new CacheEntryOptions { Tags = ["docs"] });
        Assert.True(await raw.KeyExistsAsync(ScaleOps.Caching.Internal.RedisKeys.Value(tenant, generation, "old")));
        Assert.True(await raw.KeyExistsAsync(ScaleOps.Caching.Internal.RedisKeys.Value(tenant, generation, "new")));

        await node.Cache.RemoveByTagAsync("docs");

        Assert.False(await raw.KeyExistsAsync(ScaleOps.Caching.Internal.RedisKeys.Value(tenant, generation, "old")));
        Assert.False(await raw.KeyExistsAsync(ScaleOps.Caching.Internal.RedisKeys.Value(tenant, generation, "new")));
        Assert.False(await raw.KeyExistsAsync(ScaleOps.Caching.Internal.RedisKeys.LegacyTag(tenant, generation, "docs")));
    }

    /// <summary>The members Redis holds for a tag, in its index or in a plain set (as versions before the index wrote it).</summary>
    private static async Task<long> TagMembersAsync(StackExchange.Redis.IDatabase raw, string tenant, long generation, string tag)
    {
        long members = 0;
        foreach (var key in new[] { ScaleOps.Caching.Internal.RedisKeys.Tag(tenant, generation, tag), ScaleOps.Caching.Internal.RedisKeys.LegacyTag(tenant, generation, tag) })
        {
            members += await raw.KeyTypeAsync(key) switch
            {
                StackExchange.Redis.RedisType.SortedSet => await raw.SortedSetLengthAsync(key),
                StackExchange.Redis.RedisType.Set => await raw.SetLengthAsync(key),
                _ => 0,
            };
        }

        return members;
    }

    [Fact]
    public async Task Invalidating_a_tenant_drops_all_its_entries_everywhere_and_no_other_tenants()
    {
        var prefix = Prefix();
        await using var a = Node(prefix);
        await using var b = Node(prefix);
        foreach (var tenant in new[] { "acme", "globex" })
        {
            using var scope = a.As(tenant);
            for (var i = 0; i < 5; i++)
            {
                await a.Cache.SetAsync($"k{i}", $"{tenant}-{i}");
            }
        }

        using (b.As("acme"))
        {
            Assert.Equal(CacheSource.Redis, (await b.Cache.TryGetAsync<string>("k0")).Source);
        }

        await BackplaneListeningAsync(prefix, 2);

        using (a.As("acme"))
        {
            await a.Cache.InvalidateTenantAsync();
            Assert.False((await a.Cache.TryGetAsync<string>("k3")).HasValue);
        }

        await TestSignalUntil(() => !b.InMemory("acme", "k0"), "instance B to drop the tenant's entries");
        using (b.As("acme"))
        {
            for (var i = 0; i < 5; i++)
            {
                Assert.False((await b.Cache.TryGetAsync<string>($"k{i}")).HasValue);
            }
        }

        using (b.As("globex"))
        {
            Assert.Equal("globex-4", (await b.Cache.TryGetAsync<string>("k4")).Value);
        }
    }

    [Fact]
    public async Task Outside_a_tenant_scope_every_call_throws_TenantRequiredException()
    {
        await using var node = Node(Prefix());
        await Assert.ThrowsAsync<TenantRequiredException>(async () => await node.Cache.GetOrSetAsync("k", _ => ValueTask.FromResult(1)));
        await Assert.ThrowsAsync<TenantRequiredException>(async () => await node.Cache.TryGetAsync<int>("k"));
        await Assert.ThrowsAsync<TenantRequiredException>(async () => await node.Cache.SetAsync("k", 1));
        await Assert.ThrowsAsync<TenantRequiredException>(async () => await node.Cache.RemoveAsync("k"));
        await Assert.ThrowsAsync<TenantRequiredException>(async () => await node.Cache.RemoveByTagAsync("t"));
        await Assert.ThrowsAsync<TenantRequiredException>(async () => await node.Cache.InvalidateTenantAsync());
    }

    private static Task TestSignalUntil(Func<bool> condition, string what) =>
        ScaleOps.TestInfrastructure.TestSignal.UntilAsync(() => Task.FromResult(condition()), what, TimeSpan.FromSeconds(10));
}
