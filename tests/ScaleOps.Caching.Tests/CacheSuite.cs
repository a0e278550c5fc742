using System;
using System.Linq;
using System.Runtime.CompilerServices;
using System.Threading;
using System.Threading.Tasks;
using Microsoft.Extensions.Time.Testing;
using ScaleOps.Caching.Tests.Support;
using ScaleOps.Tenancy;

namespace ScaleOps.Caching.Tests;

/// <summary>
/// The cache's behaviour, written once and run on every Redis target: <see cref="SingleRedisCacheTests"/> and
/// <see cref="ClusterRedisCacheTests"/>. Each test uses its own key prefix, so classes run in parallel safely.
/// </summary>
public abstract partial class CacheSuite(RedisTarget redis)
{
    private static readonly CacheEntryOptions TenMinutes = new() { Expiration = TimeSpan.FromMinutes(10) };

    /// <summary>Ten minutes in Redis, never kept in memory: every read of such an entry goes to Redis.</summary>
    private static readonly CacheEntryOptions RedisOnly = new() { LocalExpiration = TimeSpan.Zero, Expiration = TimeSpan.FromMinutes(10) };

    protected RedisTarget Redis { get; } = redis;

    private CacheNode Node(string prefix, Action<CachingOptions>? configure = null, TimeProvider? time = null) =>
        CacheNode.Create(Redis.ConnectionString, prefix, configure, time);

    private string Prefix([CallerMemberName] string test = "") => Unique.Prefix(Redis.Name, test);

    /// <summary>
    /// Waits until Redis counts <paramref name="instances"/> subscribers on the backplane channel of
    /// <paramref name="prefix"/> (summed over every master). A node subscribes without waiting when it connects, so a
    /// test that relies on one instance hearing another's invalidation first waits for the subscription to be live.
    /// </summary>
    private async Task BackplaneListeningAsync(string prefix, int instances)
    {
        await using var admin = await StackExchange.Redis.ConnectionMultiplexer.ConnectAsync(Redis.ConnectionString);
        var channel = ScaleOps.Caching.Internal.RedisKeys.Channel(prefix);
        await ScaleOps.TestInfrastructure.TestSignal.UntilAsync(async () =>
        {
            long total = 0;
            foreach (var endpoint in admin.GetEndPoints())
            {
                var server = admin.GetServer(endpoint);
                if (server.IsReplica)
                {
                    continue;
                }

                var reply = (StackExchange.Redis.RedisResult[])(await server.ExecuteAsync("PUBSUB", "NUMSUB", channel))!;
                total += (long)reply[1];
            }

            return total >= instances;
        }, $"{instances} cache instances to subscribe to the backplane");
    }

    private static Func<CancellationToken, ValueTask<string?>> Counting(Counter counter, string? value) =>
        _ =>
        {
            counter.Increment();
            return ValueTask.FromResult(value);
        };

    [Fact]
    public async Task A_miss_runs_the_factory_once_then_memory_serves_the_value()
    {
        await using var node = Node(Prefix());
        using var scope = node.As("acme");
        var runs = new Counter();

        var first = await node.Cache.GetOrSetEntryAsync("doc:1", Counting(runs, "v1"));
        var second = await node.Cache.GetOrSetEntryAsync("doc:1", Counting(runs, "v2"));

        Assert.Equal((CacheSource.Factory, "v1"), (first.Source, first.Value));
        Assert.False(first.IsHit);
        Assert.Equal((CacheSource.Memory, "v1"), (second.Source, second.Value));
        Assert.True(second.IsHit);
        Assert.Equal(1, runs.Value);
    }

    [Fact]
    public async Task The_state_overload_hands_its_state_to_the_factory_and_returns_the_value_from_every_level()
    {
        var prefix = Prefix();
        await using var writer = Node(prefix);
        await using var reader = Node(prefix);
        using var scope = writer.As("acme");
        var state = (Made: "made-", Runs: new Counter());
        static ValueTask<string> Make((string Made, Counter Runs) s, string key)
        {
            s.Runs.Increment();
            return ValueTask.FromResult(s.Made + key);
        }

        Assert.Equal("made-doc", await writer.Cache.GetOrSetAsync("doc", state, static (s, _) => Make(s, "doc"), TenMinutes)); // factory
        Assert.Equal("made-doc", await writer.Cache.GetOrSetAsync("doc", state, static (s, _) => Make(s, "other"), TenMinutes)); // memory
        await reader.Cache.TryGetAsync<string>("absent"); // the reader learns the generation
        Assert.Equal("made-doc", await reader.Cache.GetOrSetAsync("doc", state, static (s, _) => Make(s, "other"), RedisOnly)); // Redis
        Assert.Equal("made-new", await reader.Cache.GetOrSetAsync("new", state, static (s, _) => Make(s, "new"), RedisOnly)); // Redis miss, factory
        Assert.Equal(2, state.Runs.Value);
    }

    [Fact]
    public async Task A_Redis_hit_sends_one_GET_and_a_miss_reads_Redis_once_before_the_factory()
    {
        var prefix = Prefix();
        await using var writer = Node(prefix);
        await using var reader = Node(prefix);
        using var scope = writer.As("acme");
        var runs = new Counter();
        await writer.Cache.SetAsync("doc", "v", TenMinutes);
        Assert.Equal(CacheSource.Redis, (await reader.Cache.GetOrSetEntryAsync("doc", Counting(runs, "x"), RedisOnly)).Source); // learns the generation

        var session = new StackExchange.Redis.Profiling.ProfilingSession();
        reader.Internal.Redis.Multiplexer!.RegisterProfiler(() => session);
        for (var i = 0; i < 5; i++)
        {
            var hit = await reader.Cache.GetOrSetEntryAsync("doc", Counting(runs, "x"), RedisOnly);
            Assert.Equal((CacheSource.Redis, "v"), (hit.Source, hit.Value));
        }

        Assert.Equal(["GET", "GET", "GET", "GET", "GET"], Commands(session));

        Assert.Equal(CacheSource.Factory, (await reader.Cache.GetOrSetEntryAsync("missing", Counting(runs, "m"), RedisOnly)).Source);
        Assert.Equal(["GET", "SET"], Commands(session)); // not a second GET before the factory
        Assert.Equal(1, runs.Value);

        static string[] Commands(StackExchange.Redis.Profiling.ProfilingSession session) =>
            [.. session.FinishProfiling().Select(c => c.Command is "SETEX" or "PSETEX" ? "SET" : c.Command) // the client picks by the TTL's unit
                .Where(c => c is not ("PUBLISH" or "PING" or "ECHO" or "CLUSTER" or "INFO"))];
    }

    [Fact]
    public async Task Callers_arriving_together_on_a_missing_key_share_the_Redis_read_and_the_factory()
    {
        await using var node = Node(Prefix());
        using var scope = node.As("acme");
        await node.Cache.GetOrSetAsync("warm", _ => ValueTask.FromResult("w"), RedisOnly); // learns the generation
        using var waits = node.Collect("scaleops.cache.stampede.waits");
        var session = new StackExchange.Redis.Profiling.ProfilingSession();
        node.Internal.Redis.Multiplexer!.RegisterProfiler(() => session);
        var runs = new Counter();
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        Func<CancellationToken, ValueTask<string>> factory = async _ =>
        {
            runs.Increment();
            await gate.Task;
            return "v";
        };

        var callers = Enumerable.Range(0, 100).Select(_ => Task.Run(() => node.Cache.GetOrSetAsync("hot", factory, RedisOnly).AsTask())).ToArray();
        await ScaleOps.TestInfrastructure.TestSignal.UntilAsync(
            () => Task.FromResult(waits.GetMeasurementSnapshot().Sum(m => m.Value) == 99), "99 callers to wait for the first one's load");
        gate.SetResult();

        Assert.All(await Task.WhenAll(callers), value => Assert.Equal("v", value));
        Assert.Equal(1, runs.Value);
        var gets = session.FinishProfiling().Count(c => c.Command == "GET");
        Assert.InRange(gets, 1, 2); // one direct read, plus the flight leader's when it was not that caller
    }

    [Fact]
    public async Task Another_instance_reads_the_value_from_Redis_without_running_its_factory()
    {
        var prefix = Prefix();
        await using var writer = Node(prefix);
        await using var reader = Node(prefix);
        var runs = new Counter();
        using (writer.As("acme"))
        {
            await writer.Cache.GetOrSetAsync("doc:1", Counting(runs, "from-writer"));
        }

        using (reader.As("acme"))
        {
            var read = await reader.Cache.GetOrSetEntryAsync("doc:1", Counting(runs, "from-reader"));
            Assert.Equal((CacheSource.Redis, "from-writer"), (read.Source, read.Value));
            Assert.Equal(CacheSource.Memory, (await reader.Cache.TryGetAsync<string>("doc:1")).Source);
        }

        Assert.Equal(1, runs.Value);
    }

    [Theory]
    [InlineData("a", "b:k", "a:b", "k")]
    [InlineData("a}", "k", "a", "}k")]
    [InlineData("a{b}", "k", "a", "{b}k")]
    [InlineData("t%7D", "k", "t}", "k")]
    [InlineData("x", "v0:k:y", "x}:v0:k", "y")]
    public async Task Tenants_never_read_each_others_entries_whatever_the_key(string tenantA, string keyA, string tenantB, string keyB)
    {
        var prefix = Prefix();
        await using var one = Node(prefix);
        await using var two = Node(prefix);
        using (one.As(tenantA))
        {
            await one.Cache.SetAsync(keyA, "secret of " + tenantA);
        }

        using (two.As(tenantB))
        {
            Assert.False((await two.Cache.TryGetAsync<string>(keyB)).HasValue);
            Assert.False((await two.Cache.TryGetAsync<string>(keyA)).HasValue);
            var own = await two.Cache.GetOrSetEntryAsync(keyA, _ => ValueTask.FromResult<string?>("own of " + tenantB));
            Assert.Equal((CacheSource.Factory, "own of " + tenantB), (own.Source, own.Value));
        }

        using (one.As(tenantB))
        {
            Assert.Equal("own of " + tenantB, (await one.Cache.TryGetAsync<string>(keyA)).Value);
        }

        using (one.As(tenantA))
        {
            Assert.Equal("secret of " + tenantA, (await one.Cache.TryGetAsync<string>(keyA)).Value);
        }
    }

    [Fact]
    public async Task Plain_get_set_and_remove_work_across_instances()
    {
        var prefix = Prefix();
        await using var a = Node(prefix);
        await using var b = Node(prefix);
        using var scopeA = a.As("acme");
        using var scopeB = b.As("acme");

        Assert.Equal(default, await b.Cache.TryGetAsync<int>("count"));
        await a.Cache.TryGetAsync<int>("count");
        await BackplaneListeningAsync(prefix, 2);
        var applied = b.Internal.BackplaneMessagesApplied;
        await a.Cache.SetAsync("count", 41);

        // A's set also tells B to drop "count"; let that message land first, or it could drop the copy B reads next.
        await TestSignalUntil(() => b.Internal.BackplaneMessagesApplied > applied, "instance B to hear A's first set");
        Assert.Equal((CacheSource.Redis, 41), ((await b.Cache.TryGetAsync<int>("count")).Source, (await b.Cache.TryGetAsync<int>("count")).Value));
        Assert.True(b.InMemory("acme", "count"));

        await a.Cache.SetAsync("count", 42);
        await TestSignalUntil(() => !b.InMemory("acme", "count"), "instance B to drop its copy after A's set");
        Assert.Equal(42, (await b.Cache.TryGetAsync<int>("count")).Value);

        await a.Cache.RemoveAsync("count");
        await TestSignalUntil(() => !b.InMemory("acme", "count"), "instance B to drop its copy after A's remove");
        Assert.False((await b.Cache.TryGetAsync<int>("count")).HasValue);
        Assert.False((await a.Cache.TryGetAsync<int>("count")).HasValue);
    }

    [Fact]
    public async Task A_removal_between_a_loads_invalidation_check_and_its_SET_leaves_no_stale_value_in_Redis()
    {
        var prefix = Prefix();
        await using var node = Node(prefix);
        await using var reader = Node(prefix);
        using var scope = node.As("acme");
        var removals = new Counter();
        node.Internal.BeforeRedisWrite = async key =>
        {
            // The race made deterministic: the removal runs (memory, then its DEL) after the load checked for
            // invalidations and before its SET is sent.
            if (key == "k" && removals.Increment() == 1)
            {
                await node.Cache.RemoveAsync("k");
            }
        };

        Assert.Equal("old", await node.Cache.GetOrSetAsync("k", _ => ValueTask.FromResult("old"), TenMinutes));
        node.Internal.BeforeRedisWrite = null;
        Assert.Equal(1, removals.Value);
        Assert.False((await reader.Cache.TryGetAsync<string>("k")).HasValue, "Redis kept the value loaded before the removal");
        Assert.False((await node.Cache.TryGetAsync<string>("k")).HasValue);

        // The same with a tag removal and a tagged write (the script path).
        var tagged = new CacheEntryOptions { Expiration = TimeSpan.FromMinutes(10), Tags = ["docs"] };
        node.Internal.BeforeRedisWrite = async key =>
        {
            if (key == "t" && removals.Increment() == 2)
            {
                await node.Cache.RemoveByTagAsync("docs");
            }
        };

        Assert.Equal("old", await node.Cache.GetOrSetAsync("t", _ => ValueTask.FromResult("old"), tagged));
        node.Internal.BeforeRedisWrite = null;
        Assert.Equal(2, removals.Value);
        Assert.False((await reader.Cache.TryGetAsync<string>("t")).HasValue, "Redis kept the tagged value loaded before the tag removal");
    }

    [Fact]
    public async Task A_not_found_is_cached_for_the_shorter_negative_expiration()
    {
        var time = new FakeTimeProvider();
        await using var node = Node(Prefix(), o => o.NegativeExpiration = TimeSpan.FromSeconds(30), time);
        using var scope = node.As("acme");
        var runs = new Counter();

        Assert.Null(await node.Cache.GetOrSetAsync("missing", Counting(runs, null), TenMinutes));
        Assert.Equal(CacheSource.Memory, (await node.Cache.GetOrSetEntryAsync("missing", Counting(runs, null), TenMinutes)).Source);
        Assert.Equal(1, runs.Value);

        time.Advance(TimeSpan.FromSeconds(31));
        Assert.Equal(CacheSource.Factory, (await node.Cache.GetOrSetEntryAsync("missing", Counting(runs, "found now"), TenMinutes)).Source);
        Assert.Equal(2, runs.Value);
    }

    [Fact]
    public async Task Entries_expire_after_their_expiration_plus_at_most_the_jitter()
    {
        var time = new FakeTimeProvider();
        await using var node = Node(Prefix(), o => o.JitterFraction = 0.1, time);
        using var scope = node.As("acme");
        var runs = new Counter();

        await node.Cache.GetOrSetAsync("k", Counting(runs, "v"), TenMinutes);
        time.Advance(TimeSpan.FromMinutes(9.9));
        Assert.Equal(CacheSource.Memory, (await node.Cache.GetOrSetEntryAsync("k", Counting(runs, "v"), TenMinutes)).Source);
        time.Advance(TimeSpan.FromMinutes(1.2));
        Assert.Equal(CacheSource.Factory, (await node.Cache.GetOrSetEntryAsync("k", Counting(runs, "v"), TenMinutes)).Source);
        Assert.Equal(2, runs.Value);
    }

    [Fact]
    public async Task Expirations_in_Redis_are_jittered_within_the_jitter_fraction()
    {
        var prefix = Prefix();
        await using var node = Node(prefix, o =>
        {
            o.JitterFraction = 0.1;
            o.FailSafeMaxDuration = TimeSpan.Zero; // the Redis TTL is then the (jittered) expiration alone
        });
        using var scope = node.As("acme");
        for (var i = 0; i < 20; i++)
        {
            await node.Cache.SetAsync($"k{i}", i, TenMinutes);
        }

        await using var admin = await StackExchange.Redis.ConnectionMultiplexer.ConnectAsync(Redis.ConnectionString);
        var tenantPrefix = ScaleOps.Caching.Internal.RedisKeys.TenantPrefix(prefix, "acme");
        var generation = await Support.Generations.OfAsync(admin.GetDatabase(), prefix, "acme");
        var ttls = new double[20];
        for (var i = 0; i < 20; i++)
        {
            var ttl = await admin.GetDatabase().KeyTimeToLiveAsync(ScaleOps.Caching.Internal.RedisKeys.Value(tenantPrefix, generation, $"k{i}"));
            Assert.NotNull(ttl);
            ttls[i] = ttl.Value.TotalSeconds;
        }

        // Within 10 min and 10 min + 10% (less the seconds the test took); spread over the jitter's minute, not written
        // together to expire together (20 uniform draws all within 5 s of each other: about 1 in 10^20).
        Assert.All(ttls, ttl => Assert.InRange(ttl, 570, 660));
        Assert.True(ttls.Max() - ttls.Min() > 5, $"TTLs not jittered: {string.Join(", ", ttls)}");
    }
}

public sealed class SingleRedisCacheTests(SingleRedis redis) : CacheSuite(redis), IClassFixture<SingleRedis>;

public sealed class ClusterRedisCacheTests(ClusterRedis redis) : CacheSuite(redis), IClassFixture<ClusterRedis>;
