using System;
using System.Threading;
using System.Threading.Tasks;
using ScaleOps.Caching.Tests.Support;
using ScaleOps.TestInfrastructure;

namespace ScaleOps.Caching.Tests.Internal;

/// <summary>The README's rules about factories: reading their own key, and per-call fail-safe against the defaults.</summary>
public sealed class FactoryRulesTests(SingleRedis redis) : IClassFixture<SingleRedis>
{
    private static readonly CacheEntryOptions TenMinutes = new() { Expiration = TimeSpan.FromMinutes(10) };

    private CacheNode Node(string test, Action<CachingOptions>? configure = null) =>
        CacheNode.Create(redis.ConnectionString, Unique.Prefix("factory", test), configure);

    /// <summary>
    /// "A factory that reads its own key from the cache gets an InvalidOperationException naming the key": also when it
    /// reads the key as another type. (That read used to skip the check and load the key again inside the factory, so the
    /// inner factory's int and the outer factory's string overwrote each other under one key.)
    /// </summary>
    [Fact]
    public async Task A_factory_that_reads_its_own_key_as_another_type_is_refused_too()
    {
        await using var node = Node(nameof(A_factory_that_reads_its_own_key_as_another_type_is_refused_too));
        using var scope = node.As("acme");
        await node.Cache.GetOrSetAsync("warm", _ => ValueTask.FromResult("w"), TenMinutes); // learn the generation
        var innerRuns = 0;
        var call = node.Cache.GetOrSetAsync("k", async _ =>
        {
            var inner = await node.Cache.GetOrSetAsync("k", _ => ValueTask.FromResult(Interlocked.Increment(ref innerRuns)), TenMinutes);
            return "outer:" + inner;
        }, TenMinutes).AsTask();

        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => call.WaitAsync("the re-entrant call"));
        Assert.Contains("cache key 'k' (tenant acme) reads that same key", error.Message, StringComparison.Ordinal);
        Assert.Equal(0, innerRuns);
        Assert.False((await node.Cache.TryGetAsync<int>("k")).HasValue);

        // Two different callers loading one key as two types at once still both load (no re-entrance there).
        var gate = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        var asString = node.Cache.GetOrSetAsync("both", _ => new ValueTask<string>(gate.Task), TenMinutes).AsTask();
        Assert.Equal(5, await node.Cache.GetOrSetAsync("both", _ => ValueTask.FromResult(5), TenMinutes));
        gate.SetResult("s");
        Assert.Equal("s", await asString.WaitAsync("the string load"));
    }

    /// <summary>
    /// Per call, <c>FailSafe = true</c> cannot turn fail-safe on when <c>FailSafeMaxDuration</c> is 0: no stale copy is
    /// kept past the expiration, so there is nothing to serve and the factory's error reaches the caller (README, Options).
    /// </summary>
    [Fact]
    public async Task Per_call_FailSafe_true_serves_nothing_when_FailSafeMaxDuration_is_zero()
    {
        await using var node = Node(nameof(Per_call_FailSafe_true_serves_nothing_when_FailSafeMaxDuration_is_zero), o =>
        {
            o.FailSafeMaxDuration = TimeSpan.Zero;
            o.JitterFraction = 0;
        });
        using var scope = node.As("acme");
        var failSafe = new CacheEntryOptions { Expiration = TimeSpan.FromMilliseconds(1), FailSafe = true };
        await node.Cache.SetAsync("k", "old", failSafe);
        await MetricsTests.ExpiredAsync(node, "k");

        var error = await Assert.ThrowsAsync<InvalidOperationException>(async () =>
            await node.Cache.GetOrSetAsync<string>("k", _ => throw new InvalidOperationException("db down"), failSafe));
        Assert.Equal("db down", error.Message);
    }
}
