using System;
using System.Threading;
using System.Threading.Tasks;
using Microsoft.Extensions.Time.Testing;
using ScaleOps.Caching.Tests.Support;
using ScaleOps.TestInfrastructure;

namespace ScaleOps.Caching.Tests;

/// <summary>Fail-safe across instances, the throttle, and applications sharing one Redis.</summary>
public abstract partial class CacheSuite
{
    [Fact]
    public async Task Another_instances_expired_value_in_Redis_serves_fail_safe_and_the_factory_is_tried_again_after_the_throttle()
    {
        var prefix = Prefix();
        var time = new FakeTimeProvider(); // one clock for both instances: the writer's fresh-until is compared with the reader's
        Action<CachingOptions> configure = o =>
        {
            o.FailSafeMaxDuration = TimeSpan.FromMinutes(30);
            o.FailSafeThrottle = TimeSpan.FromSeconds(5);
        };
        await using var writer = Node(prefix, configure, time);
        await using var reader = Node(prefix, configure, time);
        foreach (var node in new[] { writer, reader })
        {
            using var connect = node.As("acme");
            Assert.False((await node.Cache.TryGetAsync<string>("absent")).HasValue); // connects it and subscribes it
        }

        // The writer's set is published (fire and forget); on a cluster it reaches the reader's node over the cluster bus
        // whenever it does. Heard in the middle of the reads below, it invalidated the key there (a tenant epoch bump), and
        // the stale copy read from Redis could no longer be served: "database down" reached the caller.
        await BackplaneListeningAsync(prefix, 2);
        var heard = reader.Internal.BackplaneMessagesApplied;
        using (writer.As("acme"))
        {
            await writer.Cache.SetAsync("k", "good", TenMinutes);
        }

        await TestSignal.UntilAsync(() => Task.FromResult(reader.Internal.BackplaneMessagesApplied > heard), "the reader to hear the writer's set");

        time.Advance(TimeSpan.FromMinutes(12)); // expired (10 min + at most 10% jitter), within the fail-safe window
        using var scope = reader.As("acme");
        var runs = new Counter();
        Func<CancellationToken, ValueTask<string>> failing = _ =>
        {
            runs.Increment();
            throw new InvalidOperationException("database down");
        };

        var stale = await reader.Cache.GetOrSetEntryAsync("k", failing, TenMinutes);
        Assert.Equal((CacheSource.Stale, "good"), (stale.Source, stale.Value)); // from Redis: this instance never held it
        Assert.Equal("good", await reader.Cache.GetOrSetAsync("k", failing, TenMinutes));
        Assert.Equal(1, runs.Value); // within the throttle

        time.Advance(TimeSpan.FromSeconds(6)); // past FailSafeThrottle: the factory is tried again
        Assert.Equal("good", await reader.Cache.GetOrSetAsync("k", failing, TenMinutes));
        Assert.Equal(2, runs.Value);

        time.Advance(TimeSpan.FromSeconds(6));
        var fresh = await reader.Cache.GetOrSetEntryAsync("k", _ => ValueTask.FromResult("new"), TenMinutes);
        Assert.Equal((CacheSource.Factory, "new"), (fresh.Source, fresh.Value));
    }

    [Fact]
    public async Task Applications_with_different_key_prefixes_share_one_Redis_without_seeing_each_others_entries()
    {
        var first = Prefix();
        var second = Prefix();
        await using var app1 = Node(first);
        await using var app2 = Node(second);
        using (app1.As("acme"))
        {
            await app1.Cache.SetAsync("k", "app1's", TenMinutes);
        }

        using (app2.As("acme"))
        {
            Assert.False((await app2.Cache.TryGetAsync<string>("k")).HasValue);
            await app2.Cache.SetAsync("k", "app2's", TenMinutes);
            await app2.Cache.InvalidateTenantAsync();
            await app2.Cache.SetAsync("k", "app2's again", TenMinutes);
        }

        await using var app1Again = Node(first); // reads Redis, not memory
        using (app1Again.As("acme"))
        {
            var read = await app1Again.Cache.TryGetAsync<string>("k");
            Assert.Equal((CacheSource.Redis, "app1's"), (read.Source, read.Value));
        }
    }
}
