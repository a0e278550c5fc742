using System;
using System.Threading.Tasks;
using ScaleOps.Caching.Internal;
using ScaleOps.Caching.Tests.Support;
using ScaleOps.TestInfrastructure;

namespace ScaleOps.Caching.Tests;

/// <summary>
/// <c>LocalOnly</c> entries on two instances: "A LocalOnly write stays in this instance's memory and leaves Redis alone
/// (a value written there earlier under the same key is still read there)", and removals, tag removals and tenant
/// invalidations made on another instance reach it through the backplane like any memory copy.
/// </summary>
public abstract partial class CacheSuite
{
    private static readonly CacheEntryOptions LocalOnlyTagged = new() { Expiration = TimeSpan.FromMinutes(10), LocalOnly = true, Tags = ["docs"] };

    [Fact]
    public async Task LocalOnly_entries_never_reach_Redis_and_another_instances_invalidations_drop_them()
    {
        var prefix = Prefix();
        await using var a = Node(prefix);
        await using var b = Node(prefix);
        var raw = await a.RawAsync();
        var tenant = RedisKeys.TenantPrefix(prefix, "acme");
        using var scopeA = a.As("acme");
        using var scopeB = b.As("acme");
        await a.Cache.TryGetAsync<string>("warm-up"); // each instance connects (and subscribes) on its first Redis call
        await b.Cache.TryGetAsync<string>("warm-up");
        await BackplaneListeningAsync(prefix, 2);
        var runs = new Counter();

        // Never written to Redis, by a write or by a load.
        await a.Cache.SetAsync("set", "local", LocalOnlyTagged);
        Assert.Equal("loaded", await a.Cache.GetOrSetAsync("loaded", Counting(runs, "loaded"), LocalOnlyTagged));
        Assert.Equal("loaded", await a.Cache.GetOrSetAsync("loaded", Counting(runs, "again"), LocalOnlyTagged));
        Assert.Equal(1, runs.Value);
        Assert.Equal([RedisKeys.Generation(tenant)], await Generations.TenantKeysAsync(raw, prefix, "acme")); // no value, no tag index
        Assert.False((await b.Cache.TryGetAsync<string>("set")).HasValue);
        Assert.False((await b.Cache.TryGetAsync<string>("loaded")).HasValue);

        // A value written to Redis earlier under the same key stays there and is read there.
        var heard = a.Internal.BackplaneMessagesApplied;
        await b.Cache.SetAsync("shared", "in Redis", RedisOnly);
        await TestSignal.UntilAsync(() => Task.FromResult(a.Internal.BackplaneMessagesApplied > heard), "A to hear B's write"); // before A's own
        await a.Cache.SetAsync("shared", "local", LocalOnlyTagged);
        Assert.Equal((CacheSource.Memory, "local"), ToTuple(await a.Cache.TryGetAsync<string>("shared")));
        Assert.Equal((CacheSource.Redis, "in Redis"), ToTuple(await b.Cache.TryGetAsync<string>("shared")));

        // Another instance's removal of the key, of a tag, and of the tenant each drop A's memory-only copies.
        await b.Cache.RemoveAsync("set");
        await TestSignal.UntilAsync(() => Task.FromResult(!a.InMemory("acme", "set")), "B's removal to drop A's LocalOnly copy");
        Assert.True(a.InMemory("acme", "loaded"));

        await b.Cache.RemoveByTagAsync("docs");
        await TestSignal.UntilAsync(() => Task.FromResult(!a.InMemory("acme", "loaded")), "B's tag removal to drop A's LocalOnly copy");

        await a.Cache.SetAsync("tenant-wide", "local", new CacheEntryOptions { LocalOnly = true });
        await b.Cache.InvalidateTenantAsync();
        await TestSignal.UntilAsync(() => Task.FromResult(!a.InMemory("acme", "tenant-wide")), "B's tenant invalidation to drop A's LocalOnly copy");
        Assert.Equal("reloaded", await a.Cache.GetOrSetAsync("loaded", Counting(runs, "reloaded"), LocalOnlyTagged));
    }

    private static (CacheSource, T) ToTuple<T>(CacheResult<T> result) => (result.Source, result.Value);
}
