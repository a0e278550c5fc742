using System;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using Microsoft.Extensions.Time.Testing;
using ScaleOps.Caching.Tests.Support;
using ScaleOps.TestInfrastructure;

namespace ScaleOps.Caching.Tests;

/// <summary>
/// A caller's cancellation of cache-aside (before the call, while the factory runs, from inside the factory) and an
/// instance's shutdown while its factory holds the cross-instance lock.
/// </summary>
public abstract partial class CacheSuite
{
    [Fact]
    public async Task A_token_cancelled_before_a_cache_aside_miss_throws_that_token_and_runs_no_factory()
    {
        await using var node = Node(Prefix());
        using var scope = node.As("acme");
        using var cancelled = new CancellationTokenSource();
        await cancelled.CancelAsync();
        var runs = new Counter();

        // The memory level misses, then Redis (the direct read, then the coalesced load): each used to start the factory
        // for a caller that had already given up, and the factory's value was stored.
        var entry = await Assert.ThrowsAnyAsync<OperationCanceledException>(
            async () => await node.Cache.GetOrSetEntryAsync("k", Counting(runs, "v"), TenMinutes, cancelled.Token));
        var value = await Assert.ThrowsAnyAsync<OperationCanceledException>(
            async () => await node.Cache.GetOrSetAsync("k", Counting(runs, "v"), TenMinutes, cancelled.Token));
        var hybrid = await Assert.ThrowsAnyAsync<OperationCanceledException>(
            async () => await node.Hybrid.GetOrCreateAsync("k", Counting(runs, "v"), cancellationToken: cancelled.Token));

        Assert.Equal((cancelled.Token, cancelled.Token, cancelled.Token), (entry.CancellationToken, value.CancellationToken, hybrid.CancellationToken));
        // A load the cancelled calls started is in flight or done by now (it was registered before they returned): this
        // call would join it or read its value.
        var after = await node.Cache.GetOrSetEntryAsync<string?>("k", _ => ValueTask.FromResult<string?>("after"), TenMinutes);
        Assert.Equal((CacheSource.Factory, "after"), (after.Source, after.Value));
        Assert.Equal(0, runs.Value);
    }

    [Fact]
    public async Task A_leader_that_stops_waiting_leaves_the_factory_running_for_the_others_and_nothing_behind()
    {
        await using var node = Node(Prefix());
        using var scope = node.As("acme");
        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var release = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        var factoryToken = new CancellationToken[1];
        using var leaderCancel = new CancellationTokenSource();
        var leader = node.Cache.GetOrSetAsync("k", ct =>
        {
            factoryToken[0] = ct;
            started.TrySetResult();
            return new ValueTask<string>(release.Task);
        }, TenMinutes, leaderCancel.Token).AsTask();
        await started.Task.WaitAsync("the factory to start");
        var follower = node.Cache.GetOrSetAsync("k", _ => ValueTask.FromResult("not run"), TenMinutes).AsTask();

        await leaderCancel.CancelAsync();
        var ex = await Assert.ThrowsAnyAsync<OperationCanceledException>(() => leader.WaitAsync(TestSignal.DefaultTimeout));
        Assert.Equal(leaderCancel.Token, ex.CancellationToken);
        Assert.False(factoryToken[0].IsCancellationRequested);
        Assert.False(follower.IsCompleted);

        release.SetResult("v");
        Assert.Equal("v", await follower.WaitAsync("the follower"));
        Assert.Equal(CacheSource.Memory, (await node.Cache.GetOrSetEntryAsync("k", _ => ValueTask.FromResult("again"), TenMinutes)).Source);
        Assert.Equal(0, node.Internal.LockWaiterCount);
    }

    [Fact]
    public async Task A_factory_cancelled_by_its_callers_token_is_not_a_failure_fail_safe_answers_for_everyone()
    {
        var time = new FakeTimeProvider();
        await using var node = Node(Prefix(), o =>
        {
            o.FailSafeMaxDuration = TimeSpan.FromMinutes(30);
            o.FailSafeThrottle = TimeSpan.FromSeconds(30);
        }, time);
        using var scope = node.As("acme");
        await node.Cache.SetAsync("k", "old", TenMinutes);
        time.Advance(TimeSpan.FromMinutes(12)); // expired, within the fail-safe window

        // The common shape: the factory closes over the request's token (a query cancelled with the request).
        using var request = new CancellationTokenSource();
        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var call = node.Cache.GetOrSetEntryAsync("k", async _ =>
        {
            started.TrySetResult();
            await Task.Delay(Timeout.InfiniteTimeSpan, request.Token);
            return "never";
        }, TenMinutes, request.Token).AsTask();
        await started.Task.WaitAsync("the factory to start");
        await request.CancelAsync();
        var ex = await Assert.ThrowsAnyAsync<OperationCanceledException>(() => call.WaitAsync(TestSignal.DefaultTimeout));
        Assert.Equal(request.Token, ex.CancellationToken);

        // The cancelled request is no failure of the source: the next caller runs the factory at once, instead of
        // getting the stale value for the whole throttle.
        var next = await node.Cache.GetOrSetEntryAsync("k", _ => ValueTask.FromResult("new"), TenMinutes);
        Assert.Equal((CacheSource.Factory, "new"), (next.Source, next.Value));
    }

    [Fact]
    public async Task A_factory_cancelled_by_its_leaders_token_does_not_cancel_the_followers_they_load_again()
    {
        await using var node = Node(Prefix());
        using var scope = node.As("acme");
        using var leaderRequest = new CancellationTokenSource();
        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var leader = node.Cache.GetOrSetAsync("k", async _ =>
        {
            started.TrySetResult();
            await Task.Delay(Timeout.InfiniteTimeSpan, leaderRequest.Token);
            return "never";
        }, TenMinutes, leaderRequest.Token).AsTask();
        await started.Task.WaitAsync("the leader's factory to start");
        var runs = new Counter();
        var follower = node.Cache.GetOrSetAsync("k", _ =>
        {
            runs.Increment();
            return ValueTask.FromResult("follower");
        }, TenMinutes).AsTask();

        await leaderRequest.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => leader.WaitAsync(TestSignal.DefaultTimeout));

        // The follower never cancelled: it gets a value (its own factory's), not the leader's cancellation.
        Assert.Equal("follower", await follower.WaitAsync("the follower"));
        Assert.Equal(1, runs.Value);
    }

    [Fact]
    public async Task An_instance_disposed_while_its_factory_holds_the_cluster_lock_releases_the_lock_for_the_instance_waiting()
    {
        var prefix = Prefix();
        Action<CachingOptions> longLock = o =>
        {
            o.DistributedStampedeProtection = true;
            o.DistributedLockLease = TimeSpan.FromMinutes(10);
            o.DistributedLockWait = TimeSpan.FromMinutes(10);
        };
        var a = Node(prefix, longLock);
        await using var b = Node(prefix, longLock);
        using var waits = b.Collect("scaleops.cache.stampede.waits");
        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        Task<string> holder;
        using (a.As("acme"))
        {
            holder = a.Cache.GetOrSetAsync("k", async ct =>
            {
                started.TrySetResult();
                await Task.Delay(Timeout.InfiniteTimeSpan, ct); // ends when A shuts down
                return "never";
            }, TenMinutes).AsTask();
        }

        await started.Task.WaitAsync("A's factory under the lock");
        using var scope = b.As("acme");
        var waiting = b.Cache.GetOrSetAsync("k", _ => ValueTask.FromResult("B's"), TenMinutes).AsTask();
        await TestSignal.UntilAsync(() => Task.FromResult(waits.GetMeasurementSnapshot().Any(m => m.Tags["scope"] as string == "cluster")), "B to wait on A's lock");

        // A shuts down: its factory is cancelled, and the lock must go with it, not stay for its 10-minute lease.
        await a.DisposeAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => holder.WaitAsync(TestSignal.DefaultTimeout));
        Assert.Equal("B's", await waiting.WaitAsync("B to take the lock A released"));
    }
}
