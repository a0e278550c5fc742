using System;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Time.Testing;
using ScaleOps.Caching.Tests.Support;
using ScaleOps.TestInfrastructure;

namespace ScaleOps.Caching.Tests;

/// <summary>Eager refresh: a hit near the end of a value's freshness answers at once and refreshes it in the background.</summary>
public abstract partial class CacheSuite
{
    /// <summary>Eager refresh at 0.8, no jitter: with ten minutes' expiration a value is due after eight.</summary>
    private static void Eager(CachingOptions o)
    {
        o.JitterFraction = 0;
        o.EagerRefreshThreshold = 0.8;
    }

    private static bool Refreshing(CacheNode node, string key) =>
        node.Internal.Memory.Find("acme") is { } bucket && bucket.Flights.ContainsKey(key);

    private static Task RefreshEndedAsync(CacheNode node, string key) =>
        TestSignal.UntilAsync(() => Task.FromResult(!Refreshing(node, key)), "the background refresh to end");

    /// <summary>A factory that counts its runs, says when one started, and returns what <c>release</c> gives it.</summary>
    private static Func<CancellationToken, ValueTask<string>> Gated(Counter runs, TaskCompletionSource started, TaskCompletionSource<string> release) =>
        async _ =>
        {
            runs.Increment();
            started.TrySetResult();
            return await release.Task;
        };

    [Fact]
    public async Task A_due_hit_answers_the_current_value_at_once_and_one_background_refresh_stores_the_new_one()
    {
        var time = new FakeTimeProvider();
        var prefix = Prefix();
        await using var node = Node(prefix, Eager, time);
        using var scope = node.As("acme");
        await node.Cache.GetOrSetAsync("k", _ => ValueTask.FromResult("old"), TenMinutes);
        time.Advance(TimeSpan.FromMinutes(9)); // one minute of ten left: less than (1 - 0.8) x 10 minutes

        var runs = new Counter();
        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var release = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        var refresh = Gated(runs, started, release);
        var call = node.Cache.GetOrSetEntryAsync("k", refresh, TenMinutes);
        Assert.True(call.IsCompleted); // answered without waiting for the factory
        Assert.Equal((CacheSource.Memory, "old"), ((await call).Source, (await call).Value));
        await started.Task.WaitAsync("the background refresh to start");

        // While it runs, hits answer the current value and start no second run.
        for (var i = 0; i < 5; i++)
        {
            Assert.Equal("old", await node.Cache.GetOrSetAsync("k", refresh, TenMinutes));
        }

        release.SetResult("new");
        await RefreshEndedAsync(node, "k");
        var after = await node.Cache.GetOrSetEntryAsync("k", refresh, TenMinutes);
        Assert.Equal((CacheSource.Memory, "new"), (after.Source, after.Value));
        Assert.Equal(1, runs.Value);
        Assert.Equal(2, node.Cache.GetStatus().Misses); // factory runs: the first load and the refresh

        // Stored as a load stores: in Redis too, fresh for a whole expiration again (not due a minute later).
        time.Advance(TimeSpan.FromMinutes(1));
        Assert.Equal("new", await node.Cache.GetOrSetAsync("k", refresh, TenMinutes));
        Assert.False(Refreshing(node, "k"));
        await using var other = Node(prefix, Eager, time);
        using (other.As("acme"))
        {
            var read = await other.Cache.TryGetAsync<string>("k");
            Assert.Equal((CacheSource.Redis, "new"), (read.Source, read.Value));
        }

        Assert.Equal(1, runs.Value);
    }

    [Fact]
    public async Task Eager_refresh_measures_the_values_freshness_not_its_shorter_memory_lifetime_and_also_starts_from_a_Redis_hit()
    {
        var time = new FakeTimeProvider();
        await using var node = Node(Prefix(), Eager, time);
        using var scope = node.As("acme");
        var options = new CacheEntryOptions { Expiration = TimeSpan.FromMinutes(10), LocalExpiration = TimeSpan.FromMinutes(1) };
        await node.Cache.GetOrSetAsync("k", _ => ValueTask.FromResult("old"), options);
        var runs = new Counter();
        Func<CancellationToken, ValueTask<string>> refresh = _ =>
        {
            runs.Increment();
            return ValueTask.FromResult("new");
        };

        // 10 s of its one-minute memory lifetime left, 9 min 10 s of its freshness: not due.
        time.Advance(TimeSpan.FromSeconds(50));
        var memory = await node.Cache.GetOrSetEntryAsync("k", refresh, options);
        Assert.Equal((CacheSource.Memory, "old"), (memory.Source, memory.Value));
        Assert.False(Refreshing(node, "k")); // a refresh started by the hit would be marked until it ends...
        Assert.Equal(0, runs.Value); // ...after its factory ran

        // At 7 minutes the memory copy is gone: a Redis hit, 3 minutes left, not due either.
        time.Advance(TimeSpan.FromMinutes(6) + TimeSpan.FromSeconds(10));
        var redis = await node.Cache.GetOrSetEntryAsync("k", refresh, options);
        Assert.Equal((CacheSource.Redis, "old"), (redis.Source, redis.Value));
        Assert.False(Refreshing(node, "k"));
        Assert.Equal(0, runs.Value);

        // At 9 minutes (memory copy gone again): a Redis hit that is due answers the old value and refreshes.
        time.Advance(TimeSpan.FromMinutes(2));
        var due = await node.Cache.GetOrSetEntryAsync("k", refresh, options);
        Assert.Equal((CacheSource.Redis, "old"), (due.Source, due.Value));
        await TestSignal.UntilAsync(() => Task.FromResult(runs.Value == 1 && !Refreshing(node, "k")), "the refresh to run");
        Assert.Equal("new", await node.Cache.GetOrSetAsync("k", refresh, options));
        Assert.Equal(1, runs.Value);
    }

    [Fact]
    public async Task Many_concurrent_due_hits_run_the_factory_once_and_a_call_turns_eager_refresh_off_with_zero()
    {
        var time = new FakeTimeProvider();
        await using var node = Node(Prefix(), Eager, time);
        using var scope = node.As("acme");
        await node.Cache.GetOrSetAsync("k", _ => ValueTask.FromResult("old"), TenMinutes);
        time.Advance(TimeSpan.FromMinutes(9));

        var runs = new Counter();
        var off = new CacheEntryOptions { Expiration = TimeSpan.FromMinutes(10), EagerRefreshThreshold = 0 };
        Assert.Equal("old", await node.Cache.GetOrSetAsync("k", Counting(runs, "never"), off));
        Assert.False(Refreshing(node, "k"));
        Assert.Equal(0, runs.Value);

        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var release = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        var refresh = Gated(runs, started, release);
        var hits = await Task.WhenAll(Enumerable.Range(0, 64).Select(_ => Task.Run(async () => await node.Cache.GetOrSetAsync("k", refresh, TenMinutes))))
            .WaitAsync("64 concurrent due hits");
        Assert.All(hits, h => Assert.Equal("old", h));
        await started.Task.WaitAsync("the background refresh to start");
        release.SetResult("new");
        await RefreshEndedAsync(node, "k");
        Assert.Equal(1, runs.Value);
        Assert.Equal("new", await node.Cache.GetOrSetAsync("k", refresh, TenMinutes));
    }

    [Fact]
    public async Task Memory_hits_not_yet_due_and_due_hits_that_find_a_refresh_running_allocate_nothing()
    {
        var time = new FakeTimeProvider();
        await using var node = Node(Prefix(), o =>
        {
            Eager(o);
            o.DefaultExpiration = TimeSpan.FromMinutes(10); // "d", read without options, lives as long as "k"
        }, time);
        using var scope = node.As("acme");
        await node.Cache.GetOrSetAsync("k", _ => ValueTask.FromResult("old"), TenMinutes);
        await node.Cache.GetOrSetAsync("d", _ => ValueTask.FromResult("old"));
        var runs = new Counter();
        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var release = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        var refresh = Gated(runs, started, release);

        long Allocated(Func<ValueTask<CacheResult<string>>> hit)
        {
            for (var i = 0; i < 100; i++)
            {
                _ = hit();
            }

            var before = GC.GetAllocatedBytesForCurrentThread();
            var sources = 0;
            for (var i = 0; i < 1_000; i++)
            {
                var result = hit();
                sources += result.IsCompletedSuccessfully && result.Result.Source == CacheSource.Memory ? 1 : 0;
            }

            var allocated = GC.GetAllocatedBytesForCurrentThread() - before;
            Assert.Equal(1_000, sources);
            return allocated;
        }

        time.Advance(TimeSpan.FromMinutes(7)); // three minutes left: not due
        Assert.Equal(0, Allocated(() => node.Cache.GetOrSetEntryAsync("k", refresh, TenMinutes)));
        Assert.Equal(0, Allocated(() => node.Cache.GetOrSetEntryAsync("d", refresh)));
        Assert.False(Refreshing(node, "k"));

        time.Advance(TimeSpan.FromMinutes(2)); // due: the first hit starts the refresh, the others find it running
        _ = await node.Cache.GetOrSetEntryAsync("k", refresh, TenMinutes);
        await started.Task.WaitAsync("the background refresh to start");
        Assert.Equal(0, Allocated(() => node.Cache.GetOrSetEntryAsync("k", refresh, TenMinutes)));
        release.SetResult("new");
        await RefreshEndedAsync(node, "k");
        Assert.Equal(1, runs.Value);
    }

    [Fact]
    public async Task A_failing_refresh_keeps_the_current_value_is_logged_and_is_not_retried_within_the_fail_safe_throttle()
    {
        var time = new FakeTimeProvider();
        await using var node = CacheNode.Create(Redis.ConnectionString, Prefix(), o =>
        {
            Eager(o);
            o.FailSafeThrottle = TimeSpan.FromSeconds(5);
        }, time, logs: true);
        using var scope = node.As("acme");
        using var durations = new Microsoft.Extensions.Diagnostics.Metrics.Testing.MetricCollector<double>(node.Metrics.Meter, "scaleops.cache.factory.duration");
        await node.Cache.GetOrSetAsync("k", _ => ValueTask.FromResult("old"), TenMinutes);
        time.Advance(TimeSpan.FromMinutes(9));
        var runs = new Counter();
        Func<CancellationToken, ValueTask<string>> failing = _ =>
        {
            runs.Increment();
            throw new InvalidOperationException("database down");
        };

        var hit = await node.Cache.GetOrSetEntryAsync("k", failing, TenMinutes);
        Assert.Equal((CacheSource.Memory, "old"), (hit.Source, hit.Value));
        await TestSignal.UntilAsync(() => Task.FromResult(!Refreshing(node, "k") && node.Logs.GetSnapshot().Any(l => l.Id.Id == 5014)), "the failure to be logged");
        var logged = Assert.Single(node.Logs.GetSnapshot(), l => l.Id.Id == 5014);
        Assert.Equal(LogLevel.Warning, logged.Level);
        Assert.Equal("database down", logged.Exception?.Message);
        Assert.Equal(1, runs.Value);
        Assert.Equal(["success", "failure"], durations.GetMeasurementSnapshot().Select(m => (string)m.Tags["outcome"]!)); // counted as a factory run

        // Within the throttle: the current value, no refresh started (it would be marked until its factory ran).
        time.Advance(TimeSpan.FromSeconds(4));
        var throttled = await node.Cache.GetOrSetEntryAsync("k", failing, TenMinutes);
        Assert.Equal((CacheSource.Memory, "old"), (throttled.Source, throttled.Value));
        Assert.False(Refreshing(node, "k"));
        Assert.Equal(1, runs.Value);

        // After it, the next due hit tries again.
        time.Advance(TimeSpan.FromSeconds(2));
        Assert.Equal("old", await node.Cache.GetOrSetAsync("k", failing, TenMinutes));
        await TestSignal.UntilAsync(() => Task.FromResult(runs.Value == 2 && !Refreshing(node, "k")), "the refresh to be tried again");
        Assert.Equal("old", await node.Cache.GetOrSetAsync("k", failing, TenMinutes));
    }

    [Theory]
    [InlineData("key")]
    [InlineData("tag")]
    [InlineData("tenant")]
    public async Task An_invalidation_during_a_refresh_voids_its_result(string invalidation)
    {
        var time = new FakeTimeProvider();
        await using var node = Node(Prefix(), Eager, time);
        using var scope = node.As("acme");
        var tagged = new CacheEntryOptions { Expiration = TimeSpan.FromMinutes(10), Tags = ["t"] };
        await node.Cache.GetOrSetAsync("k", _ => ValueTask.FromResult("old"), tagged);
        time.Advance(TimeSpan.FromMinutes(9));
        var runs = new Counter();
        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var release = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);

        Assert.Equal("old", await node.Cache.GetOrSetAsync("k", Gated(runs, started, release), tagged));
        await started.Task.WaitAsync("the background refresh to start");
        await (invalidation switch
        {
            "key" => node.Cache.RemoveAsync("k"),
            "tag" => node.Cache.RemoveByTagAsync("t"),
            _ => node.Cache.InvalidateTenantAsync(),
        });
        release.SetResult("refreshed before the invalidation");
        await RefreshEndedAsync(node, "k");

        Assert.False((await node.Cache.TryGetAsync<string>("k")).HasValue); // neither in memory nor in Redis
        Assert.Equal(1, runs.Value);
    }

    [Fact]
    public async Task Two_instances_with_distributed_stampede_protection_refresh_a_due_key_once()
    {
        var time = new FakeTimeProvider(); // one clock for both instances
        var prefix = Prefix();
        Action<CachingOptions> configure = o =>
        {
            Eager(o);
            o.DistributedStampedeProtection = true;
        };
        await using var a = Node(prefix, configure, time);
        await using var b = Node(prefix, configure, time);
        using var scopeA = a.As("acme");
        using var scopeB = b.As("acme");
        await a.Cache.GetOrSetAsync("k", _ => ValueTask.FromResult("old"), TenMinutes);
        Assert.Equal(CacheSource.Redis, (await b.Cache.GetOrSetEntryAsync("k", _ => ValueTask.FromResult("b's"), TenMinutes)).Source);
        await BackplaneListeningAsync(prefix, 2); // the calls connected both: b hears a's write
        time.Advance(TimeSpan.FromMinutes(9));

        var runs = new Counter();
        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var release = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        var refresh = Gated(runs, started, release);
        Assert.Equal("old", await a.Cache.GetOrSetAsync("k", refresh, TenMinutes));
        await started.Task.WaitAsync("a's refresh to start");
        Assert.Equal("old", await b.Cache.GetOrSetAsync("k", refresh, TenMinutes));

        // b's refresh waits for a's lock (or, without the lock, runs the factory a second time).
        await TestSignal.UntilAsync(() => Task.FromResult(b.Internal.LockWaiterCount > 0 || runs.Value > 1), "b's refresh to wait for a's");
        release.SetResult("new");
        await RefreshEndedAsync(a, "k");
        await RefreshEndedAsync(b, "k");
        Assert.Equal(1, runs.Value);
        Assert.Equal("new", await b.Cache.GetOrSetAsync("k", refresh, TenMinutes));
        Assert.Equal("new", await a.Cache.GetOrSetAsync("k", refresh, TenMinutes));
        Assert.Equal(1, runs.Value);
    }

    [Fact]
    public async Task The_HybridCache_adapter_refreshes_eagerly_with_the_default_threshold()
    {
        var time = new FakeTimeProvider();
        await using var node = Node(Prefix(), Eager, time);
        using var scope = node.As("acme");
        var entry = new Microsoft.Extensions.Caching.Hybrid.HybridCacheEntryOptions { Expiration = TimeSpan.FromMinutes(10) };
        await node.Hybrid.GetOrCreateAsync("k", _ => ValueTask.FromResult("old"), entry);
        time.Advance(TimeSpan.FromMinutes(9));
        var runs = new Counter();
        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var release = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        var refresh = Gated(runs, started, release);

        var call = node.Hybrid.GetOrCreateAsync("k", refresh, entry);
        Assert.True(call.IsCompleted);
        Assert.Equal("old", await call);
        await started.Task.WaitAsync("the background refresh to start");
        release.SetResult("new");
        await RefreshEndedAsync(node, "k");
        Assert.Equal("new", await node.Hybrid.GetOrCreateAsync("k", refresh, entry));
        Assert.Equal(1, runs.Value);
    }
}
