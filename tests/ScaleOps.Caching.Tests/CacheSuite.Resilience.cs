using System;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using Microsoft.Extensions.Time.Testing;
using ScaleOps.Caching.Tests.Support;
using ScaleOps.TestInfrastructure;

namespace ScaleOps.Caching.Tests;

/// <summary>Fail-safe, stampedes and factories that misbehave.</summary>
public abstract partial class CacheSuite
{
    [Fact]
    public async Task A_failing_factory_is_answered_with_the_last_good_value_for_a_bounded_time()
    {
        var time = new FakeTimeProvider();
        await using var node = Node(Prefix(), o => o.FailSafeMaxDuration = TimeSpan.FromMinutes(30), time);
        using var scope = node.As("acme");
        await node.Cache.GetOrSetAsync("k", _ => ValueTask.FromResult("good"), TenMinutes);
        time.Advance(TimeSpan.FromMinutes(12));

        var runs = new Counter();
        Func<CancellationToken, ValueTask<string>> failing = _ =>
        {
            runs.Increment();
            throw new InvalidOperationException("database down");
        };
        var stale = await node.Cache.GetOrSetEntryAsync("k", failing, TenMinutes);
        Assert.Equal((CacheSource.Stale, "good"), (stale.Source, stale.Value));
        Assert.True(stale.IsHit);

        // Within the throttle the stale value is served without calling the failing factory again.
        Assert.Equal("good", await node.Cache.GetOrSetAsync("k", failing, TenMinutes));
        Assert.Equal(1, runs.Value);

        // Past the fail-safe window (10 min + up to 10% jitter + 30 min) the error reaches the caller.
        time.Advance(TimeSpan.FromMinutes(30));
        var error = await Assert.ThrowsAsync<InvalidOperationException>(async () => await node.Cache.GetOrSetAsync("k", failing, TenMinutes));
        Assert.Equal("database down", error.Message);
    }

    [Fact]
    public async Task A_slow_factory_is_answered_with_the_last_good_value_and_refreshes_the_entry_when_it_completes()
    {
        var time = new FakeTimeProvider();
        await using var node = Node(Prefix(), o => o.FactoryTimeout = TimeSpan.FromMilliseconds(200), time);
        using var scope = node.As("acme");
        await node.Cache.GetOrSetAsync("k", _ => ValueTask.FromResult("old"), TenMinutes);
        time.Advance(TimeSpan.FromMinutes(12));

        var started = new TaskCompletionSource();
        var release = new TaskCompletionSource<string>();
        var call = node.Cache.GetOrSetEntryAsync("k", async _ =>
        {
            started.TrySetResult();
            return await release.Task;
        }, TenMinutes).AsTask();
        await started.Task.WaitAsync("the slow factory to start");
        await TestSignal.UntilAsync(() =>
        {
            time.Advance(TimeSpan.FromMilliseconds(50));
            return Task.FromResult(call.IsCompleted);
        }, "the factory timeout to serve the stale value");
        var answer = await call;
        Assert.Equal((CacheSource.Stale, "old"), (answer.Source, answer.Value));

        release.SetResult("new");
        await TestSignal.UntilAsync(async () => (await node.Cache.TryGetAsync<string>("k")).Value == "new", "the late factory result to be cached");
    }

    [Fact]
    public async Task While_a_timed_out_factory_still_runs_later_callers_get_the_stale_value_without_a_second_run()
    {
        var time = new FakeTimeProvider();
        await using var node = Node(Prefix(), o => o.FactoryTimeout = TimeSpan.FromMilliseconds(200), time);
        using var scope = node.As("acme");
        using var fallbacks = node.Collect("scaleops.cache.fallbacks");
        await node.Cache.GetOrSetAsync("k", _ => ValueTask.FromResult("old"), TenMinutes);
        time.Advance(TimeSpan.FromMinutes(12));

        var runs = new Counter();
        var release = new TaskCompletionSource<string>();
        Func<CancellationToken, ValueTask<string>> slow = async _ =>
        {
            runs.Increment();
            return await release.Task;
        };
        var first = node.Cache.GetOrSetEntryAsync("k", slow, TenMinutes).AsTask();
        await TestSignal.UntilAsync(() =>
        {
            time.Advance(TimeSpan.FromMilliseconds(50));
            return Task.FromResult(first.IsCompleted);
        }, "the factory timeout to serve the stale value");
        Assert.Equal((CacheSource.Stale, "old"), ((await first).Source, (await first).Value));

        // The clock stands still from here: a caller that waited for the timeout again would never complete.
        var sequential = await node.Cache.GetOrSetEntryAsync("k", slow, TenMinutes).AsTask().WaitAsync("a later caller");
        var concurrent = await Task.WhenAll(Enumerable.Range(0, 20).Select(_ => node.Cache.GetOrSetEntryAsync("k", slow, TenMinutes).AsTask()))
            .WaitAsync("concurrent later callers");
        Assert.Equal((CacheSource.Stale, "old"), (sequential.Source, sequential.Value));
        Assert.All(concurrent, r => Assert.Equal((CacheSource.Stale, "old"), (r.Source, r.Value)));
        Assert.Equal(1, runs.Value);
        Assert.Contains(fallbacks.GetMeasurementSnapshot(), m => m.Tags["reason"] as string == "factory_timeout");

        // When the background run completes its value is stored as usual, and the next callers get it.
        release.SetResult("new");
        await TestSignal.UntilAsync(async () => (await node.Cache.GetOrSetAsync("k", slow, TenMinutes)) == "new", "the late factory result to be cached");
        Assert.Equal(1, runs.Value);
    }

    [Fact]
    public async Task A_removal_while_a_timed_out_factory_still_runs_ends_the_stale_answers_and_discards_its_late_result()
    {
        var time = new FakeTimeProvider();
        await using var node = Node(Prefix(), o => o.FactoryTimeout = TimeSpan.FromMilliseconds(200), time);
        using var scope = node.As("acme");
        await node.Cache.GetOrSetAsync("k", _ => ValueTask.FromResult("old"), TenMinutes);
        time.Advance(TimeSpan.FromMinutes(12));

        var release = new TaskCompletionSource<string>();
        var first = node.Cache.GetOrSetEntryAsync("k", async _ => await release.Task, TenMinutes).AsTask();
        await TestSignal.UntilAsync(() =>
        {
            time.Advance(TimeSpan.FromMilliseconds(50));
            return Task.FromResult(first.IsCompleted);
        }, "the factory timeout to serve the stale value");
        Assert.Equal(CacheSource.Stale, (await first).Source);

        await node.Cache.RemoveAsync("k");
        var after = await node.Cache.GetOrSetEntryAsync("k", _ => ValueTask.FromResult("fresh"), TenMinutes).AsTask().WaitAsync("a load after the removal");
        Assert.Equal((CacheSource.Factory, "fresh"), (after.Source, after.Value));

        // The background run started before the removal: its result is not stored.
        release.SetResult("late");
        await TestSignal.UntilAsync(() => Task.FromResult(node.Internal.Memory.Find("acme")!.Flights.IsEmpty), "the background run to end");
        Assert.Equal((CacheSource.Memory, "fresh"), (await node.Cache.GetOrSetEntryAsync("k", _ => ValueTask.FromResult("x"), TenMinutes)) is var r ? (r.Source, r.Value) : default);
    }

    [Fact]
    public async Task Per_call_NegativeExpiration_FailSafe_and_FactoryTimeout_override_the_defaults()
    {
        var time = new FakeTimeProvider();
        await using var node = Node(Prefix(), o =>
        {
            o.NegativeExpiration = TimeSpan.FromMinutes(5);
            o.FailSafeMaxDuration = TimeSpan.FromMinutes(30); // FactoryTimeout stays unset: the default waits for the factory
        }, time);
        using var scope = node.As("acme");
        using var fallbacks = node.Collect("scaleops.cache.fallbacks");
        bool Fallback(string reason) => fallbacks.GetMeasurementSnapshot().Any(m => m.Tags["reason"] as string == reason);

        // NegativeExpiration: a "not found" kept 10 s instead of the default 5 min.
        var runs = new Counter();
        var shortNegative = new CacheEntryOptions { Expiration = TimeSpan.FromMinutes(10), NegativeExpiration = TimeSpan.FromSeconds(10) };
        Assert.Null(await node.Cache.GetOrSetAsync("missing", Counting(runs, null), shortNegative));
        time.Advance(TimeSpan.FromSeconds(11));
        Assert.Equal(CacheSource.Factory, (await node.Cache.GetOrSetEntryAsync("missing", Counting(runs, "found"), shortNegative)).Source);
        Assert.Equal(2, runs.Value);

        // FailSafe = false: the factory's error reaches the caller although a stale value could serve; by default it serves.
        await node.Cache.SetAsync("k", "good", TenMinutes);
        await node.Cache.SetAsync("slow", "old", TenMinutes);
        time.Advance(TimeSpan.FromMinutes(12));
        Func<CancellationToken, ValueTask<string>> failing = _ => throw new InvalidOperationException("database down");
        await Assert.ThrowsAsync<InvalidOperationException>(async () =>
            await node.Cache.GetOrSetAsync("k", failing, new CacheEntryOptions { Expiration = TimeSpan.FromMinutes(10), FailSafe = false }));
        Assert.False(Fallback("fail_safe"));
        Assert.Equal((CacheSource.Stale, "good"), ((await node.Cache.GetOrSetEntryAsync("k", failing, TenMinutes)) is var r ? (r.Source, r.Value) : default));
        Assert.True(Fallback("fail_safe"));

        // FactoryTimeout on the call: the slow factory is answered with the stale value.
        var release = new TaskCompletionSource<string>();
        var call = node.Cache.GetOrSetEntryAsync(
            "slow", async _ => await release.Task, new CacheEntryOptions { Expiration = TimeSpan.FromMinutes(10), FactoryTimeout = TimeSpan.FromMilliseconds(200) }).AsTask();
        await TestSignal.UntilAsync(() =>
        {
            time.Advance(TimeSpan.FromMilliseconds(50));
            return Task.FromResult(call.IsCompleted);
        }, "the call's factory timeout to serve the stale value", TimeSpan.FromSeconds(10));
        Assert.Equal((CacheSource.Stale, "old"), ((await call).Source, (await call).Value));
        Assert.True(Fallback("factory_timeout"));
        release.SetResult("new");
    }

    [Fact]
    public async Task A_slow_factory_never_answers_with_a_value_removed_while_it_ran()
    {
        var time = new TimerSignalingTimeProvider(TimeSpan.FromMilliseconds(200));
        await using var node = Node(Prefix(), o => o.FactoryTimeout = TimeSpan.FromMilliseconds(200), time);
        using var scope = node.As("acme");
        await node.Cache.GetOrSetAsync("k", _ => ValueTask.FromResult("old"), TenMinutes);
        time.Advance(TimeSpan.FromMinutes(12));

        var release = new TaskCompletionSource<string>();
        var call = node.Cache.GetOrSetEntryAsync("k", async _ => await release.Task, TenMinutes).AsTask();
        await time.TimerCreated.WaitAsync("the cache to start waiting for the factory timeout");

        // Removed while the factory runs, before its timeout: "old" may no longer be served, not even as stale.
        await node.Cache.RemoveAsync("k");
        time.Advance(TimeSpan.FromMilliseconds(300)); // past the factory timeout
        // A bounded wait for something that must not happen: the old code answered "old" (stale) right here.
        await Task.WhenAny(call, Task.Delay(TimeSpan.FromMilliseconds(500), TimeProvider.System));
        Assert.False(call.IsCompleted, "the call answered with the removed value instead of waiting for the factory");

        release.SetResult("new");
        var answer = await call.WaitAsync("the factory's own value");
        Assert.Equal("new", answer.Value);
        Assert.NotEqual(CacheSource.Stale, answer.Source);
    }

    /// <summary>A fake clock that signals when a timer with the given due time is created (the cache's factory timeout).</summary>
    private sealed class TimerSignalingTimeProvider(TimeSpan dueTime) : FakeTimeProvider
    {
        private readonly TaskCompletionSource _created = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public Task TimerCreated => _created.Task;

        public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime1, TimeSpan period)
        {
            var timer = base.CreateTimer(callback, state, dueTime1, period);
            if (dueTime1 == dueTime)
            {
                _created.TrySetResult();
            }

            return timer;
        }
    }

    [Fact]
    public async Task A_throwing_factory_without_a_previous_value_throws_to_every_waiter_and_caches_nothing()
    {
        await using var node = Node(Prefix());
        using var scope = node.As("acme");
        var gate = new TaskCompletionSource();
        var runs = new Counter();
        Func<CancellationToken, ValueTask<string>> failing = async _ =>
        {
            runs.Increment();
            await gate.Task;
            throw new TimeoutException("query timed out");
        };

        var callers = Enumerable.Range(0, 10).Select(_ => node.Cache.GetOrSetAsync("k", failing).AsTask()).ToArray();
        gate.SetResult();
        foreach (var caller in callers)
        {
            await Assert.ThrowsAsync<TimeoutException>(() => caller);
        }

        Assert.Equal(1, runs.Value);
        Assert.False((await node.Cache.TryGetAsync<string>("k")).HasValue);
        Assert.Equal("ok", await node.Cache.GetOrSetAsync("k", _ => ValueTask.FromResult("ok")));
    }

    [Fact]
    public async Task Concurrent_misses_in_one_process_run_the_factory_once()
    {
        await using var node = Node(Prefix());
        using var scope = node.As("acme");
        var gate = new TaskCompletionSource();
        var runs = new Counter();
        var callers = Enumerable.Range(0, 200).Select(_ => node.Cache.GetOrSetAsync("hot", async _ =>
        {
            runs.Increment();
            await gate.Task;
            return "v";
        }).AsTask()).ToArray();

        await TestSignal.UntilAsync(() => Task.FromResult(runs.Value > 0), "the factory to start");
        gate.SetResult();
        Assert.All(await Task.WhenAll(callers).WaitAsync("all callers"), v => Assert.Equal("v", v));
        Assert.Equal(1, runs.Value);
    }

    [Fact]
    public async Task Concurrent_misses_on_two_instances_run_the_factory_once_with_distributed_protection()
    {
        var prefix = Prefix();
        Action<CachingOptions> locked = o =>
        {
            o.DistributedStampedeProtection = true;
            o.DistributedLockLease = TimeSpan.FromMinutes(1); // B gives up waiting after these; not on a slow machine
            o.DistributedLockWait = TimeSpan.FromSeconds(30);
        };
        await using var a = Node(prefix, locked);
        await using var b = Node(prefix, locked);
        using var waits = b.Collect("scaleops.cache.stampede.waits");
        var gate = new TaskCompletionSource();
        var runs = new Counter();
        Func<CancellationToken, ValueTask<string>> factory = async _ =>
        {
            runs.Increment();
            await gate.Task;
            return "once";
        };

        using var scopeA = a.As("acme");
        var first = Enumerable.Range(0, 50).Select(_ => a.Cache.GetOrSetAsync("hot", factory).AsTask()).ToArray();
        await TestSignal.UntilAsync(() => Task.FromResult(runs.Value > 0), "instance A's factory to start");

        using var scopeB = b.As("acme");
        var second = Enumerable.Range(0, 50).Select(_ => b.Cache.GetOrSetAsync("hot", factory).AsTask()).ToArray();
        await TestSignal.UntilAsync(
            () => Task.FromResult(waits.GetMeasurementSnapshot().Any(m => m.Tags["scope"] as string == "cluster")),
            "instance B to wait on A's lock");
        gate.SetResult();

        Assert.All(await Task.WhenAll(first.Concat(second)).WaitAsync("all callers"), v => Assert.Equal("once", v));
        Assert.Equal(1, runs.Value);
    }

    [Fact]
    public async Task Distributed_stampede_protection_leaves_no_lock_waiter_registered_once_its_loads_are_done()
    {
        var prefix = Prefix();
        await using var node = Node(prefix, o =>
        {
            o.DistributedStampedeProtection = true;
            o.DistributedLockWait = TimeSpan.FromMilliseconds(50);
        });
        using var scope = node.As("acme");
        for (var i = 0; i < 1_000; i++)
        {
            var value = i;
            Assert.Equal(value, await node.Cache.GetOrSetAsync($"doc:{value}", _ => ValueTask.FromResult(value)));
        }

        Assert.Equal(0, node.Internal.LockWaiterCount); // this instance held every lock: it never waited

        // A waiter that gives up: another instance took the lock and died without writing (no message ever comes).
        var raw = await node.RawAsync();
        var lockKey = ScaleOps.Caching.Internal.RedisKeys.Lock(ScaleOps.Caching.Internal.RedisKeys.TenantPrefix(prefix, "acme"), await Support.Generations.OfAsync(raw, prefix, "acme"), "held");
        Assert.True(await raw.StringSetAsync(lockKey, "a-dead-instance", TimeSpan.FromMinutes(1)));
        Assert.Equal("mine", await node.Cache.GetOrSetAsync("held", _ => ValueTask.FromResult("mine")));
        Assert.Equal(0, node.Internal.LockWaiterCount);
    }

    [Fact]
    public async Task Bad_keys_are_refused_with_clear_exceptions()
    {
        await using var node = Node(Prefix(), o => o.MaxKeyLength = 64);
        using var scope = node.As("acme");
        await Assert.ThrowsAsync<ArgumentNullException>(async () => await node.Cache.GetOrSetAsync(null!, _ => ValueTask.FromResult(1)));
        await Assert.ThrowsAsync<ArgumentException>(async () => await node.Cache.SetAsync("", 1));
        var tooLong = await Assert.ThrowsAsync<ArgumentException>(async () => await node.Cache.TryGetAsync<int>(new string('k', 65)));
        Assert.Contains("ScaleOps:Caching:MaxKeyLength", tooLong.Message, StringComparison.Ordinal);
        Assert.Contains("65", tooLong.Message, StringComparison.Ordinal);
        await Assert.ThrowsAsync<ArgumentException>(async () => await node.Cache.RemoveByTagAsync(new string('t', 65)));
        await Assert.ThrowsAsync<ArgumentNullException>(async () => await node.Cache.GetOrSetAsync<int>("k", null!));
    }

    [Fact]
    public async Task A_value_that_cannot_be_serialized_or_is_too_large_fails_clearly_and_is_not_cached()
    {
        await using var node = Node(Prefix(), o => o.MaxPayloadBytes = 1024);
        using var scope = node.As("acme");
        var cyclic = new Cyclic();
        cyclic.Self = cyclic;

        var unserializable = await Assert.ThrowsAsync<CacheSerializationException>(async () =>
            await node.Cache.GetOrSetAsync("cyclic", _ => ValueTask.FromResult(cyclic)));
        Assert.Contains("'cyclic'", unserializable.Message, StringComparison.Ordinal);
        Assert.Contains(nameof(Cyclic), unserializable.Message, StringComparison.Ordinal);

        var tooLarge = await Assert.ThrowsAsync<CacheSerializationException>(async () => await node.Cache.SetAsync("big", new string('x', 2000)));
        Assert.Contains("ScaleOps:Caching:MaxPayloadBytes (1024)", tooLarge.Message, StringComparison.Ordinal);
        Assert.False((await node.Cache.TryGetAsync<string>("big")).HasValue);
        Assert.False((await node.Cache.TryGetAsync<Cyclic>("cyclic")).HasValue);
    }

    [Fact]
    public async Task An_unreadable_Redis_value_is_a_miss_not_an_error()
    {
        var prefix = Prefix();
        await using var writer = Node(prefix);
        await using var reader = Node(prefix);
        using (writer.As("acme"))
        {
            await writer.Cache.SetAsync("shape", "a string, not a number");
        }

        using var scope = reader.As("acme");
        var read = await reader.Cache.GetOrSetEntryAsync("shape", _ => ValueTask.FromResult(7));
        Assert.Equal((CacheSource.Factory, 7), (read.Source, read.Value));
    }

    public sealed class Cyclic
    {
        public Cyclic? Self { get; set; }
    }
}
