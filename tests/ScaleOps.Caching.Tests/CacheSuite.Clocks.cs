using System;
using System.Threading.Tasks;
using Microsoft.Extensions.Time.Testing;
using ScaleOps.Caching.Tests.Support;
using ScaleOps.TestInfrastructure;

namespace ScaleOps.Caching.Tests;

/// <summary>
/// Hosts whose clocks disagree: a value's fresh-until is written and compared on Redis' clock (the host's plus a
/// measured offset), so neither the writer's nor the reader's own clock moves it.
/// </summary>
public abstract partial class CacheSuite
{
    [Fact]
    public async Task A_value_written_by_a_host_whose_clock_is_20_minutes_behind_is_fresh_for_the_other_instances()
    {
        var prefix = Prefix();
        await using var writer = Node(prefix, time: new SkewedTime(TimeSpan.FromMinutes(-20)));
        await using var reader = Node(prefix);
        await ListeningAsync(prefix, writer, reader);
        var heard = reader.Internal.BackplaneMessagesApplied;
        using (writer.As("acme"))
        {
            await writer.Cache.SetAsync("doc", "written", TenMinutes);
        }

        await TestSignal.UntilAsync(() => Task.FromResult(reader.Internal.BackplaneMessagesApplied > heard), "the reader to hear the writer's set");
        using var scope = reader.As("acme");
        var runs = new Counter();
        var read = await reader.Cache.GetOrSetEntryAsync("doc", Counting(runs, "the reader's"), TenMinutes);

        // On the writer's clock the value was fresh until 10 minutes before the reader's now: the reader ran its factory.
        Assert.Equal((CacheSource.Redis, "written", 0), (read.Source, read.Value, runs.Value));
    }

    [Fact]
    public async Task A_value_written_by_a_host_whose_clock_is_10_minutes_ahead_stays_fresh_for_its_expiration_not_for_the_skew()
    {
        var prefix = Prefix();
        var twoSeconds = new CacheEntryOptions { Expiration = TimeSpan.FromSeconds(2) };
        await using var writer = Node(prefix, time: new SkewedTime(TimeSpan.FromMinutes(10)));
        await using var reader = Node(prefix);
        await ListeningAsync(prefix, writer, reader);
        var heard = reader.Internal.BackplaneMessagesApplied;
        using (writer.As("acme"))
        {
            await writer.Cache.SetAsync("doc", "written", twoSeconds);
        }

        await TestSignal.UntilAsync(() => Task.FromResult(reader.Internal.BackplaneMessagesApplied > heard), "the reader to hear the writer's set");
        using var scope = reader.As("acme");
        var runs = new Counter();
        var first = await reader.Cache.GetOrSetEntryAsync("doc", Counting(runs, "the reader's"), twoSeconds);
        Assert.Equal((CacheSource.Redis, "written"), (first.Source, first.Value));
        Assert.True(reader.InMemory("acme", "doc"), "the reader kept no memory copy");

        // On the writer's clock the value was fresh for 10 minutes and 2 seconds, and so was the reader's memory copy. The
        // bound is the loop's, far above the 2 seconds of the value's expiration and far below the 10 minutes of the skew.
        await TestSignal.UntilAsync(
            async () => (await reader.Cache.GetOrSetAsync("doc", Counting(runs, "the reader's"), twoSeconds)) == "the reader's",
            "the reader's copy of the 2-second value to expire and the reader's factory to run",
            TimeSpan.FromSeconds(20));
    }

    [Fact]
    public async Task A_fake_clock_is_taken_as_Redis_clock_however_far_a_test_moves_it()
    {
        // The offset was measured for any TimeProvider: a test that moved its FakeTimeProvider 11 minutes on had it
        // "corrected" back to Redis' time at the next measurement, and a 10-minute value written before stayed fresh.
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var node = Node(Prefix(), time: time);
        using var scope = node.As("acme");
        await node.Cache.SetAsync("doc", "written", TenMinutes);

        time.Advance(TimeSpan.FromMinutes(11));
        await node.Internal.Redis.Clock.MeasureAsync(); // what the next write or maintenance pass starts once 5 minutes passed
        Assert.False(node.Internal.Redis.Clock.IsMeasured);
        var runs = new Counter();
        var read = await node.Cache.GetOrSetEntryAsync("doc", Counting(runs, "made again"), TenMinutes);
        Assert.Equal((CacheSource.Factory, "made again", 1), (read.Source, read.Value, runs.Value));
    }

    /// <summary>Connects both nodes and waits until both listen on the backplane (so each hears the other's set).</summary>
    private async Task ListeningAsync(string prefix, params CacheNode[] nodes)
    {
        foreach (var node in nodes)
        {
            using var connect = node.As("acme");
            Assert.False((await node.Cache.TryGetAsync<string>("absent")).HasValue); // connects it and subscribes it
        }

        await BackplaneListeningAsync(prefix, nodes.Length);
    }
}
