using System;
using System.Threading.Tasks;
using ScaleOps.Caching.Internal;
using ScaleOps.Caching.Tests.Support;

namespace ScaleOps.Caching.Tests;

/// <summary>The backplane keeping the other instances' memory (and their view of Redis) fresh.</summary>
public abstract partial class CacheSuite
{
    [Fact]
    public async Task An_instance_that_missed_a_tenant_invalidation_honours_the_next_removal_and_write_of_that_tenant()
    {
        var prefix = Prefix();
        await using var behind = Node(prefix);
        using (behind.As("acme"))
        {
            await behind.Cache.SetAsync("k", "v1", TenMinutes); // this instance now knows the tenant's generation
        }

        // A tenant invalidation whose message this instance never received (pub/sub is at-most-once, and one published
        // before its subscription is confirmed is missed): the generation moved in Redis, nothing told this instance.
        var raw = await behind.RawAsync();
        var generation = await Generations.OfAsync(raw, prefix, "acme");
        Assert.Equal(generation + 1, await raw.StringIncrementAsync(RedisKeys.Generation(RedisKeys.TenantPrefix(prefix, "acme"))));

        await using var current = Node(prefix);
        using var scope = current.As("acme");
        await current.Cache.TryGetAsync<string>("absent"); // connects, and reads the new generation
        await BackplaneListeningAsync(prefix, 2);

        // A removal made (and heard) after the missed message: the behind instance must not read the old generation's keys any more.
        var applied = behind.Internal.BackplaneMessagesApplied;
        await current.Cache.RemoveAsync("k");
        await TestSignalUntil(() => behind.Internal.BackplaneMessagesApplied > applied, "the behind instance to hear the removal");
        using (behind.As("acme"))
        {
            var read = await behind.Cache.TryGetAsync<string>("k");
            Assert.False(read.HasValue, $"the behind instance read {read} after the removal it heard");
        }

        // And a write made after it: the behind instance reads the new value, not its own old one.
        applied = behind.Internal.BackplaneMessagesApplied;
        await current.Cache.SetAsync("k", "v2", TenMinutes);
        await TestSignalUntil(() => behind.Internal.BackplaneMessagesApplied > applied, "the behind instance to hear the write");
        using (behind.As("acme"))
        {
            Assert.Equal("v2", (await behind.Cache.TryGetAsync<string>("k")).Value);
        }
    }
}
