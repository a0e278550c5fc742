using System;
using System.Linq;
using System.Threading.Tasks;
using Microsoft.Extensions.Logging;
using ScaleOps.Caching.Internal;
using ScaleOps.Caching.Internal.Backplane;
using ScaleOps.Caching.Tests.Support;
using ScaleOps.TestInfrastructure;
using StackExchange.Redis;

namespace ScaleOps.Caching.Tests;

/// <summary>
/// A tenant's generation key lost (evicted under memory pressure, or deleted): the next read starts a new epoch above
/// every generation before, and an instance still on an older generation is brought up to date by the others.
/// </summary>
public abstract partial class CacheSuite
{
    [Fact]
    public async Task A_generation_key_evicted_or_deleted_starts_a_new_epoch_so_values_a_tenant_invalidation_retired_are_never_read_again()
    {
        var prefix = Prefix();
        var tenant = RedisKeys.TenantPrefix(prefix, "acme");
        await using var a = Node(prefix);
        using (a.As("acme"))
        {
            await a.Cache.SetAsync("doc", "retired", TenMinutes);
            await a.Cache.InvalidateTenantAsync();
            await a.Cache.SetAsync("doc", "current", TenMinutes);
        }

        var raw = await a.RawAsync();
        var generation = await Generations.OfAsync(raw, prefix, "acme");
        Assert.True(await raw.KeyExistsAsync(RedisKeys.Value(tenant, generation - 1, "doc"))); // the retired value, until it expires
        Assert.True(await raw.KeyDeleteAsync(RedisKeys.Generation(tenant))); // as an eviction would

        await using var b = Node(prefix); // a new instance, or any instance after a reconnect, reads the generation again
        using (b.As("acme"))
        {
            var read = await b.Cache.TryGetAsync<string>("doc");
            Assert.False(read.HasValue, $"read '{read.Value}' from {read.Source} after the generation key was lost");
        }

        Assert.True(await Generations.OfAsync(raw, prefix, "acme") > generation);
    }

    [Fact]
    public async Task A_generation_key_lives_30_days_after_its_last_read_so_a_tenant_gone_for_good_leaves_nothing_in_Redis()
    {
        var prefix = Prefix();
        var key = RedisKeys.Generation(RedisKeys.TenantPrefix(prefix, "acme"));
        await using var a = Node(prefix);
        using (a.As("acme"))
        {
            Assert.False((await a.Cache.TryGetAsync<string>("absent")).HasValue);
        }

        var raw = await a.RawAsync();
        Assert.InRange(await raw.KeyTimeToLiveAsync(key) ?? TimeSpan.Zero, TimeSpan.FromDays(29), TimeSpan.FromDays(30));
        Assert.True(await raw.KeyExpireAsync(key, TimeSpan.FromHours(1))); // as if last read 29 days and 23 hours ago

        await using var b = Node(prefix); // another instance serving the tenant reads the key, and renews it
        using (b.As("acme"))
        {
            Assert.False((await b.Cache.TryGetAsync<string>("absent")).HasValue);
        }

        Assert.InRange(await raw.KeyTimeToLiveAsync(key) ?? TimeSpan.Zero, TimeSpan.FromDays(29), TimeSpan.FromDays(30));
    }

    [Fact]
    public async Task A_removal_or_write_by_an_instance_behind_on_the_generation_is_repeated_under_the_newer_one_and_published()
    {
        var prefix = Prefix();
        var tenant = RedisKeys.TenantPrefix(prefix, "acme");
        await using var a = CacheNode.Create(Redis.ConnectionString, prefix, logs: true);
        await using var b = Node(prefix);
        using (a.As("acme"))
        {
            await a.Cache.SetAsync("doc", "v1", TenMinutes);
        }

        var raw = await a.RawAsync();
        var generation = await Generations.OfAsync(raw, prefix, "acme");
        var valueKey = RedisKeys.Value(tenant, generation, "doc");
        using (b.As("acme"))
        {
            Assert.Equal((CacheSource.Redis, "v1"), (await b.Cache.TryGetAsync<string>("doc")) is var r ? (r.Source, r.Value) : default);
        }

        await BackplaneListeningAsync(prefix, 2);

        var channel = RedisChannel.Literal(RedisKeys.Channel(prefix));
        var republished = new TaskCompletionSource<BackplaneMessage>(TaskCreationOptions.RunContinuationsAsynchronously);
        await raw.Multiplexer.GetSubscriber().SubscribeAsync(channel, (_, value) =>
        {
            if (BackplaneMessage.TryParse(value, out var message) && message.Instance != "behind" && message.Subject == "doc")
            {
                republished.TrySetResult(message);
            }
        });

        // What an instance that missed a tenant invalidation (or that read the generation before the key was lost)
        // publishes when it writes "doc": its write landed under its old generation, where no other instance reads.
        // Each node drops its memory copy when it applies that message (or a repeat of it, also about "doc"); the raw
        // subscriber below can hear the first repeat before the other node has applied anything.
        var (appliedA, appliedB) = (a.Internal.BackplaneMessagesApplied, b.Internal.BackplaneMessagesApplied);
        await raw.PublishAsync(channel, new BackplaneMessage("behind", BackplaneMessage.Key, generation - 1, "acme", "doc").Format());

        var repeat = await republished.Task.WaitAsync("an instance to repeat the removal under the newer generation");
        Assert.Equal((BackplaneMessage.Key, generation), (repeat.Kind, repeat.Generation)); // the sender catches up on hearing it
        await TestSignal.UntilAsync(async () => !await raw.KeyExistsAsync(valueKey), "the value under the newer generation to be removed");
        await TestSignal.UntilAsync(
            () => Task.FromResult(a.Internal.BackplaneMessagesApplied > appliedA && b.Internal.BackplaneMessagesApplied > appliedB),
            "both nodes to apply a message about \"doc\"");
        foreach (var node in new[] { a, b })
        {
            using var scope = node.As("acme");
            var read = await node.Cache.TryGetAsync<string>("doc");
            Assert.False(read.HasValue, $"read '{read.Value}' from {read.Source} after a behind instance changed it");
        }

        await TestSignal.UntilAsync(() => Task.FromResult(a.Logs.GetSnapshot().Any(l => l.Id.Id == 5012)), "A to log its repeat");
        var logged = Assert.Single(a.Logs.GetSnapshot(), l => l.Id.Id == 5012);
        Assert.Equal(LogLevel.Information, logged.Level);
        Assert.Contains("behind", logged.Message, StringComparison.Ordinal);

        // A repeat Redis refuses (another application's string where the tag's index belongs) is logged, not thrown.
        await raw.StringSetAsync(RedisKeys.Tag(tenant, generation, "docs"), "written by another app");
        await raw.PublishAsync(channel, new BackplaneMessage("behind", BackplaneMessage.Tag, generation - 1, "acme", "docs").Format());
        await TestSignal.UntilAsync(() => Task.FromResult(a.Logs.GetSnapshot().Any(l => l.Id.Id == 5013)), "the failed repeat to be logged");
        var failed = a.Logs.GetSnapshot().First(l => l.Id.Id == 5013);
        Assert.Equal(LogLevel.Warning, failed.Level);
        Assert.Contains("WRONGTYPE", failed.Exception?.Message, StringComparison.Ordinal);
        Assert.True(a.Cache.GetStatus().RedisAvailable);
    }
}
