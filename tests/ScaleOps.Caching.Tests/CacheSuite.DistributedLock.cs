using System;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using ScaleOps.Caching.Internal;
using ScaleOps.Caching.Tests.Support;
using ScaleOps.TestInfrastructure;

namespace ScaleOps.Caching.Tests;

/// <summary>
/// Distributed stampede protection per call, across two instances (two service providers on one Redis), and the lock's
/// lease: "one factory run across instances (lock lease DistributedLockLease, wait DistributedLockWait)".
/// </summary>
public abstract partial class CacheSuite
{
    private static readonly CacheEntryOptions Locked = new() { Expiration = TimeSpan.FromMinutes(10), DistributedStampedeProtection = true };
    private static readonly CacheEntryOptions Unlocked = new() { Expiration = TimeSpan.FromMinutes(10), DistributedStampedeProtection = false };

    [Fact]
    public async Task Per_call_distributed_protection_runs_one_factory_across_instances_and_off_each_instance_runs_its_own()
    {
        var prefix = Prefix();
        Action<CachingOptions> defaultsOff = o =>
        {
            o.DistributedStampedeProtection = false; // turned on per call below
            o.DistributedLockLease = TimeSpan.FromMinutes(1);
            o.DistributedLockWait = TimeSpan.FromMinutes(1);
        };
        await using var a = Node(prefix, defaultsOff);
        await using var b = Node(prefix, o =>
        {
            defaultsOff(o);
            o.DistributedStampedeProtection = true; // turned off per call below
        });
        using var waits = b.Collect("scaleops.cache.stampede.waits");
        using var scopeA = a.As("acme");
        using var scopeB = b.As("acme");

        // On for the call (off by default): B waits for A's factory and takes its value.
        var gate = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var runs = new Counter();
        var first = a.Cache.GetOrSetAsync("on", _ =>
        {
            runs.Increment();
            started.TrySetResult();
            return new ValueTask<string>(gate.Task);
        }, Locked).AsTask();
        await started.Task.WaitAsync("A's factory");
        var second = b.Cache.GetOrSetAsync("on", _ =>
        {
            runs.Increment();
            return ValueTask.FromResult("B ran");
        }, Locked).AsTask();
        await TestSignal.UntilAsync(() => Task.FromResult(waits.GetMeasurementSnapshot().Any(m => m.Tags["scope"] as string == "cluster")), "B to wait on A's lock");
        gate.SetResult("A's");
        Assert.Equal(["A's", "A's"], await Task.WhenAll(first, second).WaitAsync("both instances"));
        Assert.Equal(1, runs.Value);

        // Off for the call (on by default): B does not wait for A's factory, it runs its own.
        var held = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        var heldStarted = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var slow = a.Cache.GetOrSetAsync("off", _ =>
        {
            heldStarted.TrySetResult();
            return new ValueTask<string>(held.Task);
        }, Unlocked).AsTask();
        await heldStarted.Task.WaitAsync("A's factory");
        Assert.Equal("B's", await b.Cache.GetOrSetAsync("off", _ => ValueTask.FromResult("B's"), Unlocked).AsTask().WaitAsync("B's own factory, while A's still runs"));
        Assert.False(slow.IsCompleted);
        held.SetResult("A's");
        Assert.Equal("A's", await slow.WaitAsync("A's load"));
        Assert.Equal(1, waits.GetMeasurementSnapshot().Count(m => m.Tags["scope"] as string == "cluster"));
    }

    /// <summary>
    /// A lock holder that stalls (or died): its lock expires after <c>DistributedLockLease</c>, and a waiting instance
    /// takes the lock and runs the factory then, long before its own <c>DistributedLockWait</c> (10 minutes here) ends.
    /// </summary>
    [Fact]
    public async Task A_stalled_lock_holders_lease_expires_and_another_instance_takes_over_before_its_wait_ends()
    {
        var prefix = Prefix();
        Action<CachingOptions> configure = o =>
        {
            o.DistributedStampedeProtection = true;
            o.DistributedLockLease = TimeSpan.FromMilliseconds(500);
            o.DistributedLockWait = TimeSpan.FromMinutes(10);
        };
        await using var a = Node(prefix, configure);
        await using var b = Node(prefix, configure);
        var raw = await a.RawAsync();
        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var stalled = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        Task<string> holder;
        using (a.As("acme"))
        {
            holder = a.Cache.GetOrSetAsync("k", _ =>
            {
                started.TrySetResult();
                return new ValueTask<string>(stalled.Task);
            }, TenMinutes).AsTask();
        }

        await started.Task.WaitAsync("the lock holder's factory");
        var ttl = await raw.KeyTimeToLiveAsync(RedisKeys.Lock(RedisKeys.TenantPrefix(prefix, "acme"), await Generations.OfAsync(raw, prefix, "acme"), "k"));
        Assert.NotNull(ttl); // the holder's lock, with its lease (500 ms at most, not the 10 s default)
        Assert.InRange(ttl.Value, TimeSpan.Zero, TimeSpan.FromMilliseconds(500));

        var runs = new Counter();
        using (b.As("acme"))
        {
            var taken = await b.Cache.GetOrSetEntryAsync("k", Counting(runs, "B's"), TenMinutes).AsTask()
                .WaitAsync("B to take the expired lock and run its factory");
            Assert.Equal((CacheSource.Factory, "B's"), (taken.Source, taken.Value));
        }

        Assert.Equal(1, runs.Value);
        Assert.False(holder.IsCompleted);
        stalled.SetResult("A's");
        Assert.Equal("A's", await holder.WaitAsync("the stalled holder"));
    }
}
