using System;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using ScaleOps.Caching.Internal;
using ScaleOps.Caching.Tests.Support;
using ScaleOps.TestInfrastructure;

namespace ScaleOps.Caching.Tests.Internal;

/// <summary>The bookkeeping around loads: re-entry, the sweep, the memory count, metrics, disposal, the HybridCache adapter.</summary>
public sealed class LoadBookkeepingTests(SingleRedis redis) : IClassFixture<SingleRedis>
{
    private static readonly CacheEntryOptions TenMinutes = new() { Expiration = TimeSpan.FromMinutes(10) };

    private CacheNode Node(string test, Action<CachingOptions>? configure = null) =>
        CacheNode.Create(redis.ConnectionString, Unique.Prefix("bookkeeping", test), configure);

    /// <summary>
    /// A factory that reads the cache for its own key (a re-entrant call, e.g. through a helper that is itself cached)
    /// used to join its own flight and wait for itself forever; it is refused with a clear error instead.
    /// </summary>
    [Fact]
    public async Task A_factory_that_reads_its_own_key_is_refused_instead_of_waiting_for_itself()
    {
        await using var node = Node(nameof(A_factory_that_reads_its_own_key_is_refused_instead_of_waiting_for_itself));
        using var scope = node.As("acme");
        await node.Cache.GetOrSetAsync("warm", _ => ValueTask.FromResult("w"), TenMinutes); // learn the generation
        var call = node.Cache.GetOrSetAsync("k", async _ =>
        {
            var inner = await node.Cache.GetOrSetAsync("k", _ => ValueTask.FromResult("inner"), TenMinutes);
            return "outer:" + inner;
        }, TenMinutes).AsTask();

        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => call.WaitAsync("the re-entrant call"));
        Assert.Contains("cache key 'k' (tenant acme) reads that same key", error.Message, StringComparison.Ordinal);

        // The key is usable afterwards, and a factory reading another key is fine.
        Assert.Equal("outer:w", await node.Cache.GetOrSetAsync("k", async _ => "outer:" + await node.Cache.GetOrSetAsync("warm", _ => ValueTask.FromResult("x"), TenMinutes), TenMinutes));
    }

    /// <summary>
    /// Starts a GetOrSetAsync whose Redis GET (the hit path, which registers no flight) is held by a paused private
    /// redis-server while the sweep runs twice: it used to forget the tenant's empty bucket, and the load then ran in a bucket nobody found.
    /// </summary>
    private static async Task<(Task<string> Call, TaskCompletionSource<string> Release)> LoadInForgottenBucketAsync(CacheNode node, PrivateRedisServer server)
    {
        Assert.Null((await node.Cache.TryGetAsync<string>("absent")).Value); // the bucket knows the generation, holds nothing
        node.Internal.Memory.Sweep(Environment.TickCount64);                  // empty once
        Assert.True(node.Internal.Memory.Buckets.ContainsKey("acme"));

        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var release = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        await server.PauseAsync();
        Task<string> call;
        try
        {
            call = node.Cache.GetOrSetAsync("k", async _ =>
            {
                started.TrySetResult();
                return await release.Task;
            }, TenMinutes).AsTask();
            Assert.False(call.IsCompleted);
            Assert.True(node.Internal.Memory.Find("acme")!.Flights.IsEmpty); // the GET is on its way, no flight yet
            node.Internal.Memory.Sweep(Environment.TickCount64);               // empty twice, but held by the GET
            Assert.True(node.Internal.Memory.Buckets.ContainsKey("acme"));
        }
        finally
        {
            await server.ResumeAsync();
        }

        await started.Task.WaitAsync("the first factory to start");
        return (call, release);
    }

    private static CacheNode PrivateNode(PrivateRedisServer server, string test) =>
        CacheNode.Create(server.Endpoint, Unique.Prefix("bookkeeping", test), o => o.RedisTimeout = TimeSpan.FromSeconds(5));

    [Fact]
    public async Task A_removal_made_while_a_load_runs_voids_it_even_when_the_sweep_ran_during_its_GET()
    {
        await using var server = await PrivateRedisServer.StartAsync();
        await using var node = PrivateNode(server, "forgotten-void");
        using var scope = node.As("acme");
        var (call, release) = await LoadInForgottenBucketAsync(node, server);

        // The data changes while the factory runs (it read the old data): the key is removed.
        await node.Cache.RemoveAsync("k");
        release.SetResult("old");
        Assert.Equal("old", await call.WaitAsync("the first call"));

        // As with a bucket the sweep left alone (A_load_in_flight_is_still_voided_by_a_removal_of_its_own_key...), the
        // value the load computed before the removal must not be cached.
        var after = await node.Cache.TryGetAsync<string>("k");
        Assert.False(after.HasValue, $"the value loaded before the removal is still served after it, from {after.Source}: {after.Value}");
    }

    [Fact]
    public async Task A_second_caller_joins_a_load_even_when_the_sweep_ran_during_its_GET()
    {
        await using var server = await PrivateRedisServer.StartAsync();
        await using var node = PrivateNode(server, "forgotten-stampede");
        using var scope = node.As("acme");
        var (call, release) = await LoadInForgottenBucketAsync(node, server);

        using var waits = node.Collect("scaleops.cache.stampede.waits");
        var runs = new Counter();
        var second = node.Cache.GetOrSetAsync("k", _ =>
        {
            runs.Increment();
            return ValueTask.FromResult("second");
        }, TenMinutes).AsTask();

        // It joins the running load (a process-level stampede wait) instead of running its own factory.
        await TestSignal.UntilAsync(() => Task.FromResult(second.IsCompleted || waits.GetMeasurementSnapshot().Count > 0), "the second caller to join or finish");
        Assert.False(second.IsCompleted, $"the second caller ran its own factory ({runs.Value} run) while the first was in flight");
        release.SetResult("first");
        Assert.Equal("first", await call.WaitAsync("the first call"));
        Assert.Equal("first", await second.WaitAsync("the second call"));
        Assert.Equal(0, runs.Value);
    }

    /// <summary>The control of the test above: the same sequence, the sweep leaving the bucket alone.</summary>
    [Fact]
    public async Task A_removal_made_while_a_load_runs_voids_it()
    {
        await using var server = await PrivateRedisServer.StartAsync();
        await using var node = PrivateNode(server, "control-void");
        using var scope = node.As("acme");
        Assert.Null((await node.Cache.TryGetAsync<string>("absent")).Value);
        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var release = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        var call = node.Cache.GetOrSetAsync("k", async _ =>
        {
            started.TrySetResult();
            return await release.Task;
        }, TenMinutes).AsTask();
        await started.Task.WaitAsync("the factory to start");
        await node.Cache.RemoveAsync("k");
        release.SetResult("old");
        Assert.Equal("old", await call.WaitAsync("the call"));
        Assert.False((await node.Cache.TryGetAsync<string>("k")).HasValue);
    }

    /// <summary>
    /// The memory level's entry count under stores racing removals of the same key: a store that sees the removal after
    /// its TryAdd takes its entry out again and decrements a count it never incremented.
    /// </summary>
    [Fact]
    public async Task The_memory_entry_count_stays_exact_when_stores_race_removals()
    {
        await using var node = Node(nameof(The_memory_entry_count_stays_exact_when_stores_race_removals), o => o.MaxMemoryEntries = 1_000);
        var memory = node.Internal.Memory;
        var bucket = memory.Bucket("acme");
        var stop = 0;
        var storer = Task.Run(() =>
        {
            for (var i = 0; i < 200_000 && Volatile.Read(ref stop) == 0; i++)
            {
                var epoch = bucket.Watch("k");
                memory.Store(bucket, "k", new ScaleOps.Caching.Internal.L1.L1Entry<int>(i, long.MaxValue, long.MaxValue, null), epoch);
                bucket.Unwatch("k", epoch);
            }
        });
        var remover = Task.Run(() =>
        {
            while (!storer.IsCompleted)
            {
                memory.Remove(bucket, "k");
            }
        });
        await storer.WaitAsync("the stores", TimeSpan.FromSeconds(120));
        Volatile.Write(ref stop, 1);
        await remover.WaitAsync("the removals");
        memory.Remove(bucket, "k");

        Assert.Empty(bucket.Entries);
        var count = memory.ApproximateCount;

        // What the drift does to the bound: 1,000 + (drift) distinct entries stored, no eviction.
        var extra = (int)Math.Min(Math.Max(0, -count), 5_000);
        for (var i = 0; i < 1_000 + extra; i++)
        {
            var epoch = bucket.Watch("d" + i);
            memory.Store(bucket, "d" + i, new ScaleOps.Caching.Internal.L1.L1Entry<int>(i, long.MaxValue, long.MaxValue, null), epoch);
            bucket.Unwatch("d" + i, epoch);
        }

        Assert.True(count == 0 && bucket.Entries.Count <= 1_000,
            $"ApproximateCount was {count} with no entry held; then the memory level (MaxMemoryEntries 1000) held {bucket.Entries.Count} entries");
    }

    /// <summary>Hit and miss counts per level for a known sequence on two instances.</summary>
    [Fact]
    public async Task Hits_and_misses_are_counted_once_per_level_for_a_known_sequence()
    {
        var prefix = Unique.Prefix("bookkeeping", "metrics");
        await using var a = CacheNode.Create(redis.ConnectionString, prefix);
        await using var b = CacheNode.Create(redis.ConnectionString, prefix);
        using var hitsA = a.Collect("scaleops.cache.hits");
        using var missesA = a.Collect("scaleops.cache.misses");
        using var hitsB = b.Collect("scaleops.cache.hits");
        using var missesB = b.Collect("scaleops.cache.misses");
        using (a.As("acme"))
        {
            await a.Cache.GetOrSetAsync("k", _ => ValueTask.FromResult("v"), TenMinutes); // memory miss, Redis miss, factory
            await a.Cache.GetOrSetAsync("k", _ => ValueTask.FromResult("x"), TenMinutes); // memory hit
        }

        using (b.As("acme"))
        {
            await b.Cache.GetOrSetAsync("k", _ => ValueTask.FromResult("x"), TenMinutes); // memory miss, Redis hit
            await b.Cache.GetOrSetAsync("k", _ => ValueTask.FromResult("x"), TenMinutes); // memory hit
            await b.Cache.GetOrSetAsync("absent", _ => ValueTask.FromResult("y"), TenMinutes); // memory miss, Redis miss (hit path), factory
        }

        static string Levels(Microsoft.Extensions.Diagnostics.Metrics.Testing.MetricCollector<long> c) =>
            string.Join(",", c.GetMeasurementSnapshot().GroupBy(m => m.Tags["level"] as string).OrderBy(g => g.Key).Select(g => $"{g.Key}={g.Sum(m => m.Value)}"));

        Assert.Equal("memory=1", Levels(hitsA));
        Assert.Equal("memory=1,redis=1", Levels(missesA));
        Assert.Equal("memory=1,redis=1", Levels(hitsB));
        Assert.Equal("memory=2,redis=1", Levels(missesB));
        var status = a.Cache.GetStatus();
        Assert.Equal((1L, 1L), (status.Hits, status.Misses));
    }

    /// <summary>A lock holder that never finishes (a dead instance): the other instance loads by itself after the wait, once.</summary>
    [Fact]
    public async Task A_lock_holder_that_never_finishes_delays_the_other_instance_only_for_the_lock_wait()
    {
        var prefix = Unique.Prefix("bookkeeping", "lock-dead");
        Action<CachingOptions> configure = o =>
        {
            o.DistributedStampedeProtection = true;
            o.DistributedLockWait = TimeSpan.FromSeconds(1);
        };
        await using var a = CacheNode.Create(redis.ConnectionString, prefix, configure);
        await using var b = CacheNode.Create(redis.ConnectionString, prefix, configure);
        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var never = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        Task<string> holder;
        using (a.As("acme"))
        {
            holder = a.Cache.GetOrSetAsync("k", async _ =>
            {
                started.TrySetResult();
                return await never.Task;
            }, TenMinutes).AsTask();
        }

        await started.Task.WaitAsync("the holder's factory");
        var runs = new Counter();
        using (b.As("acme"))
        {
            var calls = Enumerable.Range(0, 5).Select(_ => b.Cache.GetOrSetAsync("k", _ =>
            {
                runs.Increment();
                return ValueTask.FromResult("b");
            }, TenMinutes).AsTask()).ToArray();
            var values = await Task.WhenAll(calls).WaitAsync("the waiting instance to load by itself", TimeSpan.FromSeconds(15));
            Assert.All(values, v => Assert.Equal("b", v));
        }

        Assert.Equal(1, runs.Value);
        never.SetResult("a");
        await holder.WaitAsync("the holder");
        Assert.Equal(0, b.Internal.LockWaiterCount);
    }

    /// <summary>Disposing the cache while a load (with a follower) is in flight: nothing hangs, the callers end.</summary>
    [Fact]
    public async Task Disposal_while_loads_are_in_flight_ends_them_without_hanging()
    {
        var node = Node(nameof(Disposal_while_loads_are_in_flight_ends_them_without_hanging));
        Task<string> leader;
        Task<string> follower;
        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using (node.As("acme"))
        {
            await node.Cache.GetOrSetAsync("warm", _ => ValueTask.FromResult("w"), TenMinutes);
            leader = node.Cache.GetOrSetAsync("k", async ct =>
            {
                started.TrySetResult();
                await Task.Delay(Timeout.Infinite, ct);
                return "never";
            }, TenMinutes).AsTask();
            await started.Task.WaitAsync("the factory");
            follower = node.Cache.GetOrSetAsync("k", _ => ValueTask.FromResult("f"), TenMinutes).AsTask();
        }

        await node.DisposeAsync().AsTask().WaitAsync("the disposal", TimeSpan.FromSeconds(15));
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => leader.WaitAsync(TimeSpan.FromSeconds(15)));
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => follower.WaitAsync(TimeSpan.FromSeconds(15)));
    }

    /// <summary>
    /// Metrics of an instance that waits for another instance's lock and then reads its value: documented "misses
    /// level=redis" means "the factory ran"; here it did not.
    /// </summary>
    [Fact]
    public async Task A_caller_served_by_another_instances_lock_holder_is_not_counted_as_a_factory_miss()
    {
        var prefix = Unique.Prefix("bookkeeping", "lock-metrics");
        Action<CachingOptions> configure = o => o.DistributedStampedeProtection = true;
        await using var a = CacheNode.Create(redis.ConnectionString, prefix, configure);
        await using var b = CacheNode.Create(redis.ConnectionString, prefix, configure);
        using var waits = b.Collect("scaleops.cache.stampede.waits");
        using var hits = b.Collect("scaleops.cache.hits");
        using var misses = b.Collect("scaleops.cache.misses");
        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var release = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        Task<string> holder;
        using (a.As("acme"))
        {
            holder = a.Cache.GetOrSetAsync("k", async _ =>
            {
                started.TrySetResult();
                return await release.Task;
            }, TenMinutes).AsTask();
        }

        await started.Task.WaitAsync("the holder's factory");
        var runs = new Counter();
        Task<string> waiter;
        using (b.As("acme"))
        {
            waiter = b.Cache.GetOrSetAsync("k", _ =>
            {
                runs.Increment();
                return ValueTask.FromResult("b");
            }, TenMinutes).AsTask();
        }

        await TestSignal.UntilAsync(() => Task.FromResult(waits.GetMeasurementSnapshot().Any(m => m.Tags["scope"] as string == "cluster")), "b to wait for a's lock");
        release.SetResult("a");
        Assert.Equal("a", await waiter.WaitAsync("the waiter"));
        await holder;
        Assert.Equal(0, runs.Value);
        var redisMisses = misses.GetMeasurementSnapshot().Where(m => m.Tags["level"] as string == "redis").Sum(m => m.Value);
        var redisHits = hits.GetMeasurementSnapshot().Where(m => m.Tags["level"] as string == "redis").Sum(m => m.Value);
        Assert.True(redisMisses == 0, $"one call, factory not run here: redis misses {redisMisses}, redis hits {redisHits}");
    }

    /// <summary>HybridCache: the state overload, tags, and the IEnumerable overloads of RemoveAsync and RemoveByTagAsync.</summary>
    [Fact]
    public async Task HybridCache_state_tags_and_the_enumerable_removals()
    {
        await using var node = Node("hybrid-enum");
        using var scope = node.As("acme");
        var runs = new Counter();
        async Task<string> Get(string key, string[] tags) => await node.Hybrid.GetOrCreateAsync(key, (runs, key), static (s, _) =>
        {
            s.runs.Increment();
            return ValueTask.FromResult("v:" + s.key);
        }, tags: tags);

        Assert.Equal("v:a", await Get("a", ["t1"]));
        Assert.Equal("v:b", await Get("b", ["t2"]));
        Assert.Equal("v:c", await Get("c", []));
        Assert.Equal(3, runs.Value);
        await node.Hybrid.RemoveByTagAsync(new[] { "x", "t2" });
        await node.Hybrid.RemoveAsync(new[] { "c" });
        Assert.Equal("v:a", await Get("a", ["t1"]));
        Assert.Equal(3, runs.Value);
        Assert.Equal("v:b", await Get("b", ["t2"]));
        Assert.Equal("v:c", await Get("c", []));
        Assert.Equal(5, runs.Value);
        await node.Hybrid.RemoveByTagAsync(new[] { "*" });
        Assert.Equal("v:a", await Get("a", ["t1"]));
        Assert.Equal(6, runs.Value);
    }
}

/// <summary>Tags over many keys of one tenant on the Redis Cluster (the scripts touch keys not passed in KEYS).</summary>
