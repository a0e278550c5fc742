using System;
using System.Threading.Tasks;
using ScaleOps.Caching.Internal;
using ScaleOps.Caching.Tests.Support;
using StackExchange.Redis;

namespace ScaleOps.Caching.Tests;

/// <summary>
/// Error replies about one key (another application wrote a hash where the cache keeps a value, or a string where it keeps
/// a tag's index): not an outage. Only the call on that key misses or fails; Redis stays in use for every other call.
/// </summary>
public abstract partial class CacheSuite
{
    [Fact]
    public async Task A_key_of_the_wrong_type_misses_that_call_and_leaves_Redis_on_for_every_tenant()
    {
        var prefix = Prefix();
        await using var node = Node(prefix);
        var raw = await node.RawAsync();
        var runs = new Counter();
        using (node.As("other"))
        {
            await node.Cache.SetAsync("doc", "other's", RedisOnly);
        }

        using (node.As("acme"))
        {
            Assert.False((await node.Cache.TryGetAsync<string>("absent")).HasValue); // the cache sets the tenant's generation
        }

        var generation = await Generations.OfAsync(raw, prefix, "acme");
        await raw.HashSetAsync(RedisKeys.Value(RedisKeys.TenantPrefix(prefix, "acme"), generation, "doc"), "field", "written by another app");
        using (node.As("acme"))
        {
            Assert.False((await node.Cache.TryGetAsync<string>("doc")).HasValue);
            var loaded = await node.Cache.GetOrSetEntryAsync("doc", Counting(runs, "fresh"), RedisOnly);
            Assert.Equal((CacheSource.Factory, "fresh"), (loaded.Source, loaded.Value));
        }

        var status = node.Cache.GetStatus();
        Assert.True(status.RedisAvailable, $"an error reply about one key opened the breaker: {status.LastRedisError}");
        using (node.As("other"))
        {
            var read = await node.Cache.GetOrSetEntryAsync("doc", Counting(runs, "not used"), RedisOnly);
            Assert.Equal((CacheSource.Redis, "other's"), (read.Source, read.Value));
        }

        using (node.As("acme"))
        {
            // The factory's value replaced the foreign one in Redis.
            var again = await node.Cache.GetOrSetEntryAsync("doc", Counting(runs, "not used"), RedisOnly);
            Assert.Equal((CacheSource.Redis, "fresh"), (again.Source, again.Value));
        }

        Assert.Equal(1, runs.Value);
    }

    [Fact]
    public async Task A_removal_by_a_tag_whose_index_is_of_the_wrong_type_fails_that_call_naming_the_tag_and_opens_no_breaker()
    {
        var prefix = Prefix();
        await using var node = Node(prefix);
        var raw = await node.RawAsync();
        var tenant = RedisKeys.TenantPrefix(prefix, "acme");
        using var scope = node.As("acme");
        await node.Cache.SetAsync("doc", "v", TenMinutes);
        var generation = await Generations.OfAsync(raw, prefix, "acme");
        Assert.True(await raw.KeyExistsAsync(RedisKeys.Value(tenant, generation, "doc")));
        await raw.StringSetAsync(RedisKeys.Tag(tenant, generation, "docs"), "written by another app");

        var error = await Assert.ThrowsAsync<InvalidOperationException>(async () => await node.Cache.RemoveByTagAsync("docs"));
        Assert.Contains("'docs'", error.Message, StringComparison.Ordinal);
        Assert.Contains("WRONGTYPE", error.Message, StringComparison.Ordinal);
        Assert.IsType<RedisServerException>(error.InnerException);

        var status = node.Cache.GetStatus();
        Assert.True(status.RedisAvailable, $"an error reply about one key opened the breaker: {status.LastRedisError}");
        Assert.Equal(0, status.PendingInvalidations); // never replayed: it would fail again, and hold every read off Redis meanwhile

        // A write carrying that tag cannot record itself in the index: it is not kept in Redis (nor is the value before it).
        await node.Cache.SetAsync("doc", "tagged", new CacheEntryOptions { Tags = ["docs"] });
        Assert.False(await raw.KeyExistsAsync(RedisKeys.Value(tenant, generation, "doc")));
        Assert.True(node.Cache.GetStatus().RedisAvailable);
    }

    [Fact]
    public async Task A_tenant_generation_key_holding_no_number_makes_that_tenant_skip_Redis_and_throws_nothing()
    {
        var prefix = Prefix();
        await using var node = Node(prefix);
        var raw = await node.RawAsync();
        var runs = new Counter();
        using (node.As("other"))
        {
            await node.Cache.SetAsync("doc", "other's", RedisOnly);
        }

        await raw.StringSetAsync(RedisKeys.Generation(RedisKeys.TenantPrefix(prefix, "acme")), "written by another app");
        using (node.As("acme"))
        {
            var loaded = await node.Cache.GetOrSetEntryAsync("doc", Counting(runs, "fresh"), RedisOnly);
            Assert.Equal((CacheSource.Factory, "fresh"), (loaded.Source, loaded.Value));
            Assert.Equal([RedisKeys.Generation(RedisKeys.TenantPrefix(prefix, "acme"))], await Generations.TenantKeysAsync(raw, prefix, "acme"));
        }

        Assert.True(node.Cache.GetStatus().RedisAvailable);
        using (node.As("other"))
        {
            var read = await node.Cache.GetOrSetEntryAsync("doc", Counting(runs, "not used"), RedisOnly);
            Assert.Equal((CacheSource.Redis, "other's"), (read.Source, read.Value));
        }

        Assert.Equal(1, runs.Value);
    }

    [Fact]
    public async Task Writes_and_removals_in_a_tenant_whose_generation_key_holds_no_number_leave_Redis_on_for_every_other_tenant()
    {
        var prefix = Prefix();
        await using var node = Node(prefix);
        await using var writer = Node(prefix);
        var raw = await node.RawAsync();
        await raw.StringSetAsync(RedisKeys.Generation(RedisKeys.TenantPrefix(prefix, "acme")), "written by another app");
        using (node.As("acme"))
        {
            await node.Cache.SetAsync("doc", "mine", TenMinutes); // memory only: the tenant skips Redis
            Assert.Equal((CacheSource.Memory, "mine"), (await node.Cache.TryGetAsync<string>("doc")) is var r ? (r.Source, r.Value) : default);
            await node.Cache.RemoveAsync("doc");
            Assert.False((await node.Cache.TryGetAsync<string>("doc")).HasValue);
            await node.Cache.RemoveByTagAsync("docs");
        }

        var status = node.Cache.GetStatus();
        Assert.True(status.RedisAvailable, status.LastRedisError);
        Assert.Equal(0, status.PendingInvalidations); // queued, they would fail at every replay and hold every tenant's reads off Redis

        using (writer.As("other"))
        {
            await writer.Cache.SetAsync("doc", "other's", RedisOnly);
        }

        using (node.As("other"))
        {
            var read = await node.Cache.TryGetAsync<string>("doc");
            Assert.Equal((CacheSource.Redis, "other's"), (read.Source, read.Value));
        }

        // "No call throws": nor does the tenant's invalidation (INCR of a key that holds no number is refused).
        using (node.As("acme"))
        {
            await node.Cache.SetAsync("doc", "mine", TenMinutes);
            await node.Cache.InvalidateTenantAsync();
            Assert.False((await node.Cache.TryGetAsync<string>("doc")).HasValue);
        }

        Assert.Equal(0, node.Cache.GetStatus().PendingInvalidations);
    }
}
