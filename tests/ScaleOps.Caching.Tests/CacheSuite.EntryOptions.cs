using System;
using System.Threading;
using System.Threading.Tasks;
using Microsoft.Extensions.Time.Testing;
using ScaleOps.Caching.Tests.Support;

namespace ScaleOps.Caching.Tests;

/// <summary>Per-call entry settings at their edges, cancelled tokens, and the payload limit.</summary>
public abstract partial class CacheSuite
{
    [Fact]
    public async Task An_expiration_under_a_millisecond_is_kept_one_millisecond_in_Redis_without_opening_the_breaker()
    {
        await using var node = Node(Prefix(), o => o.NegativeExpiration = TimeSpan.FromTicks(5_000));
        using var scope = node.As("acme");
        Assert.Equal("h", await node.Cache.GetOrSetAsync("hot", _ => ValueTask.FromResult("h"), TenMinutes));

        await node.Cache.SetAsync("k", "v", new CacheEntryOptions { Expiration = TimeSpan.FromTicks(5_000), FailSafe = false });
        Assert.Null(await node.Cache.GetOrSetAsync<string?>("missing", _ => ValueTask.FromResult<string?>(null)));

        var status = node.Cache.GetStatus();
        Assert.True(status.RedisAvailable, $"Redis refused a sub-millisecond expiration: {status.LastRedisError}");
        Assert.True(node.InMemory("acme", "hot"));
    }

    [Fact]
    public async Task Entry_settings_out_of_range_are_refused_before_anything_runs()
    {
        await using var node = Node(Prefix());
        using var scope = node.As("acme");
        var runs = new Counter();
        foreach (var (options, name) in new (CacheEntryOptions, string)[]
        {
            (new() { Expiration = TimeSpan.MaxValue }, "Expiration"),
            (new() { Expiration = TimeSpan.FromDays(366) }, "Expiration"),
            (new() { NegativeExpiration = TimeSpan.FromSeconds(-1) }, "NegativeExpiration"),
            (new() { LocalExpiration = TimeSpan.FromSeconds(-1) }, "LocalExpiration"),
            (new() { FactoryTimeout = TimeSpan.FromSeconds(-5) }, "FactoryTimeout"),
            (new() { FactoryTimeout = TimeSpan.FromHours(2) }, "FactoryTimeout"),
        })
        {
            var set = await Assert.ThrowsAsync<ArgumentOutOfRangeException>(async () => await node.Cache.SetAsync("k", "v", options));
            Assert.Contains(name, set.Message, StringComparison.Ordinal);
            await Assert.ThrowsAsync<ArgumentOutOfRangeException>(async () =>
                await node.Cache.GetOrSetAsync("k", _ => { runs.Increment(); return ValueTask.FromResult("v"); }, options));
        }

        Assert.Equal(0, runs.Value);
        Assert.False((await node.Cache.TryGetAsync<string>("k")).HasValue);
    }

    [Fact]
    public async Task The_payload_limit_counts_the_value_not_its_tags()
    {
        await using var node = Node(Prefix(), o => o.MaxPayloadBytes = 1024);
        using var scope = node.As("acme");
        var value = new string('a', 1022); // 1,024 bytes of JSON
        await node.Cache.SetAsync("tagged", value, new CacheEntryOptions { Expiration = TimeSpan.FromMinutes(10), Tags = ["t", "u"] });
        Assert.Equal(value, (await node.Cache.TryGetAsync<string>("tagged")).Value);

        var over = await Assert.ThrowsAsync<CacheSerializationException>(async () => await node.Cache.SetAsync("over", value + "a", TenMinutes));
        Assert.Contains("1025 bytes", over.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_token_cancelled_before_the_call_cancels_reads_writes_and_removals_and_changes_nothing()
    {
        await using var node = Node(Prefix());
        using var scope = node.As("acme");
        await node.Cache.SetAsync("k", "v", TenMinutes);
        using var cancelled = new CancellationTokenSource();
        await cancelled.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await node.Cache.TryGetAsync<string>("k", cancelled.Token));
        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await node.Cache.SetAsync("k", "other", TenMinutes, cancelled.Token));
        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await node.Cache.RemoveAsync("k", cancelled.Token));
        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await node.Cache.RemoveByTagAsync("t", cancelled.Token));
        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await node.Cache.InvalidateTenantAsync(cancelled.Token));
        Assert.Equal("v", (await node.Cache.TryGetAsync<string>("k")).Value);
    }

    [Fact]
    public async Task Fail_safe_answers_a_factory_that_fails_with_its_own_cancellation_such_as_an_HttpClient_timeout()
    {
        var time = new FakeTimeProvider();
        await using var node = Node(Prefix(), o => o.FailSafeMaxDuration = TimeSpan.FromMinutes(30), time);
        using var scope = node.As("acme");
        await node.Cache.GetOrSetAsync("k", _ => ValueTask.FromResult("good"), TenMinutes);
        time.Advance(TimeSpan.FromMinutes(12));

        var given = new bool?[1];
        var stale = await node.Cache.GetOrSetEntryAsync<string>("k", ct =>
        {
            given[0] = ct.IsCancellationRequested;
            throw new TaskCanceledException("The request was canceled due to the configured HttpClient.Timeout of 100 seconds elapsing.");
        }, TenMinutes);
        Assert.Equal((CacheSource.Stale, "good", false), (stale.Source, stale.Value, given[0]));
    }

    [Fact]
    public async Task A_read_without_options_keeps_a_Redis_value_in_memory_no_longer_than_its_writer_allowed()
    {
        var prefix = Prefix();
        var time = new FakeTimeProvider();
        await using var writer = Node(prefix, time: time);
        await using var reader = Node(prefix, time: time);
        var brief = new CacheEntryOptions { Expiration = TimeSpan.FromMinutes(10), LocalExpiration = TimeSpan.FromSeconds(1) };
        using (writer.As("acme"))
        {
            await writer.Cache.SetAsync("k", "v", brief);
            await writer.Cache.SetAsync("never-in-memory", "v", RedisOnly);
        }

        using var scope = reader.As("acme");
        Assert.Equal(CacheSource.Redis, (await reader.Cache.TryGetAsync<string>("k")).Source);
        Assert.Equal(CacheSource.Memory, (await reader.Cache.TryGetAsync<string>("k")).Source);
        time.Advance(TimeSpan.FromSeconds(2));
        Assert.Equal(CacheSource.Redis, (await reader.Cache.TryGetAsync<string>("k")).Source);

        Assert.Equal(CacheSource.Redis, (await reader.Cache.TryGetAsync<string>("never-in-memory")).Source);
        Assert.False(reader.InMemory("acme", "never-in-memory"));

        // A read that passes options of its own keeps the shorter of its and the writer's.
        Assert.Equal(CacheSource.Redis, (await reader.Cache.GetOrSetEntryAsync("never-in-memory", _ => ValueTask.FromResult("x"), TenMinutes)).Source);
        Assert.False(reader.InMemory("acme", "never-in-memory"));
    }
}
