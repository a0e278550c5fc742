using System;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;

namespace ScaleOps.Caching.Tests;

/// <summary>
/// The Redis hit path: one reusable object per thread completes the caller's ValueTask from the GET's callback
/// (<c>TenantCache.RedisHit.cs</c>). These tests pin what that must keep: every caller gets its own key's value under
/// concurrency, a miss found by that read runs the factory in the caller's execution context, and a ValueTask misused
/// after its result was taken cannot disturb the call that reuses the object.
/// </summary>
public abstract partial class CacheSuite
{
    [Fact]
    public async Task Concurrent_Redis_hits_on_many_threads_each_return_their_own_tenant_and_key()
    {
        var prefix = Prefix();
        await using var writer = Node(prefix);
        await using var reader = Node(prefix);
        string[] tenants = ["acme", "globex"];
        const int Keys = 50;
        foreach (var tenant in tenants)
        {
            using var scope = writer.As(tenant);
            for (var i = 0; i < Keys; i++)
            {
                await writer.Cache.SetAsync($"k{i}", $"{tenant}:k{i}", TenMinutes);
            }

            using var learn = reader.As(tenant);
            await reader.Cache.TryGetAsync<string>("absent"); // learns the tenant's generation (a found value would stay in memory)
        }

        Func<CancellationToken, ValueTask<string>> notExpected = _ => throw new InvalidOperationException("The factory ran: not a Redis hit.");
        var posting = new PostingContext();
        var callers = Enumerable.Range(0, 400).Select(n => Task.Run(async () =>
        {
            if (n % 4 >= 2)
            {
                // Half the callers resume through a context that posts their continuation: their results are taken on
                // another thread, later, while the completing thread goes on with other calls.
                SynchronizationContext.SetSynchronizationContext(posting);
            }

            var tenant = tenants[n % 2];
            using var scope = reader.As(tenant);
            for (var round = 0; round < 5; round++)
            {
                var key = $"k{(n + round) % Keys}";
                if ((n + round) % 2 == 0)
                {
                    Assert.Equal($"{tenant}:{key}", await reader.Cache.GetOrSetAsync(key, notExpected, RedisOnly));
                }
                else
                {
                    var entry = await reader.Cache.GetOrSetEntryAsync(key, notExpected, RedisOnly);
                    Assert.Equal((CacheSource.Redis, $"{tenant}:{key}"), (entry.Source, entry.Value));
                }
            }
        })).ToArray();

        await Task.WhenAll(callers).WaitAsync(TimeSpan.FromSeconds(60));
    }

    [Fact]
    public async Task A_miss_found_by_the_Redis_read_runs_the_factory_in_the_callers_execution_context()
    {
        await using var node = Node(Prefix());
        using var scope = node.As("acme");
        await node.Cache.GetOrSetAsync("warm", _ => ValueTask.FromResult("w"), RedisOnly); // learns the generation
        var flowing = new AsyncLocal<string?> { Value = "the caller's" };
        string? seenByValue = null;
        string? seenByEntry = null;

        var value = await node.Cache.GetOrSetAsync("missing-1", _ =>
        {
            seenByValue = flowing.Value;
            return ValueTask.FromResult("v1");
        }, RedisOnly);
        var entry = await node.Cache.GetOrSetEntryAsync("missing-2", _ =>
        {
            seenByEntry = flowing.Value;
            return ValueTask.FromResult("v2");
        }, RedisOnly);

        Assert.Equal(("v1", CacheSource.Factory, "v2"), (value, entry.Source, entry.Value));
        Assert.Equal("the caller's", seenByValue);
        Assert.Equal("the caller's", seenByEntry);
    }

    [Fact]
    public async Task A_Redis_hit_read_again_after_its_result_was_taken_throws_and_leaves_the_next_call_alone()
    {
        var prefix = Prefix();
        await using var writer = Node(prefix);
        await using var reader = Node(prefix);
        using var scope = reader.As("acme");
        using (writer.As("acme"))
        {
            await writer.Cache.SetAsync("doc", "v", TenMinutes);
        }

        Func<CancellationToken, ValueTask<string>> notExpected = _ => throw new InvalidOperationException("The factory ran: not a Redis hit.");
        await reader.Cache.TryGetAsync<string>("absent"); // learns the generation (a found value would stay in memory)
        for (var attempt = 0; attempt < 20; attempt++)
        {
            var first = reader.Cache.GetOrSetAsync("doc", notExpected, RedisOnly);
            Assert.Equal("v", await first);

            // Started on the thread that took the first result, so it reuses the first call's object.
            var second = reader.Cache.GetOrSetAsync("doc", notExpected, RedisOnly);
            Assert.Throws<InvalidOperationException>(() => first.Result);
            Assert.Equal("v", await second.AsTask().WaitAsync(TimeSpan.FromSeconds(30)));
        }
    }

    /// <summary>Runs every continuation posted to it on the thread pool, later.</summary>
    private sealed class PostingContext : SynchronizationContext
    {
        public override void Post(SendOrPostCallback d, object? state) =>
            ThreadPool.QueueUserWorkItem(_ =>
            {
                SetSynchronizationContext(this);
                d(state);
            });
    }
}
