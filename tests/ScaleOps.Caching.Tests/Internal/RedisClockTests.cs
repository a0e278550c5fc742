using System;
using System.Globalization;
using System.Linq;
using System.Threading.Tasks;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Logging.Testing;
using ScaleOps.Caching.Internal.L2;
using ScaleOps.Caching.Tests.Support;
using ScaleOps.TestInfrastructure;
using StackExchange.Redis;

namespace ScaleOps.Caching.Tests.Internal;

/// <summary>
/// The estimate of Redis' clock (<see cref="RedisClock"/>): the host's clock plus an offset measured with <c>TIME</c>
/// when the connection is made, kept when a measurement fails, measured again when Redis comes back.
/// </summary>
public sealed class RedisClockTests(SingleRedis redis) : IClassFixture<SingleRedis>
{
    /// <summary>
    /// How far the estimate may be from Redis' <c>TIME</c>: a second, against skews of 10 and 20 minutes. The estimate is
    /// off by half its shortest measuring round trip, which a loaded machine can stretch; this is a test that the skew is
    /// corrected, not a precision claim.
    /// </summary>
    private const long ToleranceMs = 1_000;

    private static readonly long TenMinutesMs = (long)TimeSpan.FromMinutes(10).TotalMilliseconds;

    [Fact]
    public async Task The_offset_measured_on_connecting_puts_a_host_clock_20_minutes_behind_on_Redis_time()
    {
        var host = new SkewedTime(TimeSpan.FromMinutes(-20));
        await using var connection = new RedisConnection(Options(redis.ConnectionString, TimeSpan.FromSeconds(5)), host, NullLogger.Instance);
        await connection.StartAsync();

        Assert.True(connection.Clock.IsMeasured);
        Assert.InRange(connection.Clock.OffsetMs, (2 * TenMinutesMs) - 1000, (2 * TenMinutesMs) + 1000); // Redis runs on this host
        await NearRedisTimeAsync(connection.Clock, redis.ConnectionString);
    }

    [Fact]
    public async Task A_failed_measurement_keeps_the_last_offset_and_Redis_coming_back_is_measured_again()
    {
        await using var server = await PrivateRedisServer.StartAsync();
        var host = new SkewedTime(TimeSpan.FromMinutes(10));
        await using var connection = new RedisConnection(Options(server.Endpoint, TimeSpan.FromSeconds(1)), host, NullLogger.Instance);
        await connection.StartAsync();
        await NearRedisTimeAsync(connection.Clock, server.Endpoint);
        var measured = connection.Clock.OffsetMs;

        // The host's clock jumps 10 more minutes ahead: a measurement that succeeded now would give another offset.
        host.Offset = TimeSpan.FromMinutes(20);
        await server.StopAsync();
        await connection.Clock.MeasureAsync();
        Assert.Equal(measured, connection.Clock.OffsetMs);

        await server.RestartAsync();
        await TestSignal.UntilAsync(
            () => Task.FromResult(Math.Abs(connection.Clock.OffsetMs + (2 * TenMinutesMs)) < 1000),
            "the client to reconnect and the offset to be measured again");
        await NearRedisTimeAsync(connection.Clock, server.Endpoint);
    }

    [Fact]
    public async Task Without_Redis_at_start_the_cache_uses_the_host_clock_and_measures_once_Redis_is_there()
    {
        await using var server = await PrivateRedisServer.StartAsync();
        await server.StopAsync();
        await using var node = CacheNode.Create(server.Endpoint, Unique.Prefix("clock", "outage-at-start"), o =>
        {
            o.RedisTimeout = TimeSpan.FromSeconds(1);
            o.BreakerDuration = TimeSpan.FromMilliseconds(200);
        }, new SkewedTime(TimeSpan.FromMinutes(10)));
        using var scope = node.As("acme");

        var read = await node.Cache.GetOrSetEntryAsync("k", _ => ValueTask.FromResult("v"));
        Assert.Equal(CacheSource.Factory, read.Source);
        Assert.False(node.Internal.Redis.Clock.IsMeasured);
        Assert.Equal(0, node.Internal.Redis.Clock.OffsetMs);

        await server.RestartAsync();
        await TestSignal.UntilAsync(async () =>
        {
            await node.Internal.MaintainAsync(); // probes Redis once the breaker allows
            return node.Internal.Redis.Clock.IsMeasured;
        }, "the cache to reach Redis and measure its clock");
        await NearRedisTimeAsync(node.Internal.Redis.Clock, server.Endpoint);
    }

    [Fact]
    public async Task A_client_that_may_not_send_TIME_still_connects_and_uses_the_host_clock()
    {
        // A Redis whose TIME is renamed or refused, told to the client with its command map: the client refuses the
        // command itself (RedisCommandException, not a RedisException).
        await using var node = CacheNode.Create(redis.ConnectionString, Unique.Prefix("clock", "no-time"), o => o.ConfigureRedis = c =>
            c.CommandMap = CommandMap.Create(new System.Collections.Generic.HashSet<string> { "TIME" }, available: false),
            new SkewedTime(TimeSpan.FromMinutes(10)));
        using var scope = node.As("acme");
        await node.Cache.SetAsync("k", "v");

        Assert.Equal(CacheSource.Redis, (await node.Cache.GetOrSetEntryAsync("k", _ => ValueTask.FromResult("factory"), new CacheEntryOptions { SkipMemoryRead = true })).Source);
        Assert.False(node.Internal.Redis.Clock.IsMeasured);
        Assert.Equal(0, node.Internal.Redis.Clock.OffsetMs);
    }

    [Fact]
    public async Task A_host_clock_a_second_or_more_off_Redis_is_reported_once_not_at_every_measurement()
    {
        // The cache judges freshness on Redis' clock whatever the host's says, but the host's other clocks are off too:
        // event 5015 tells the operator, once per change of a second or more.
        var host = new SkewedTime(TimeSpan.FromMinutes(-20));
        var logger = new FakeLogger();
        await using var connection = new RedisConnection(Options(redis.ConnectionString, TimeSpan.FromSeconds(5)), host, logger);
        await connection.StartAsync();
        await connection.Clock.MeasureAsync();

        var reported = Assert.Single(logger.Collector.GetSnapshot(), r => r.Id.Id == 5015);
        Assert.Equal(LogLevel.Warning, reported.Level);
        var offsetMs = long.Parse(reported.StructuredState!.Single(p => p.Key == "OffsetMs").Value!, CultureInfo.InvariantCulture);
        Assert.InRange(offsetMs, (2 * TenMinutesMs) - 1000, (2 * TenMinutesMs) + 1000);

        host.Offset = TimeSpan.Zero; // synchronised again: nothing more to report, and a later skew is reported anew
        await connection.Clock.MeasureAsync();
        host.Offset = TimeSpan.FromMinutes(5);
        await connection.Clock.MeasureAsync();
        Assert.Equal(2, logger.Collector.GetSnapshot().Count(r => r.Id.Id == 5015));

        var synced = new FakeLogger();
        await using var onTime = new RedisConnection(Options(redis.ConnectionString, TimeSpan.FromSeconds(5)), TimeProvider.System, synced);
        await onTime.StartAsync();
        Assert.True(onTime.Clock.IsMeasured);
        Assert.DoesNotContain(synced.Collector.GetSnapshot(), r => r.Id.Id == 5015);
    }

    private static CachingOptions Options(string redis, TimeSpan timeout) => new()
    {
        RedisConnectionString = redis,
        RedisTimeout = timeout,
        BreakerDuration = TimeSpan.FromMilliseconds(200),
    };

    /// <summary>Reads Redis' <c>TIME</c> between two readings of the estimate: it lies between them, give or take the tolerance.</summary>
    private static async Task NearRedisTimeAsync(RedisClock clock, string endpoint)
    {
        await using var client = await ConnectionMultiplexer.ConnectAsync(endpoint);
        var db = client.GetDatabase();
        await db.PingAsync();
        var before = clock.NowUnixMs();
        var reply = await db.ExecuteAsync("TIME");
        var after = clock.NowUnixMs();
        var redisMs = ((long)reply[0] * 1000) + ((long)reply[1] / 1000);
        Assert.InRange(redisMs, before - ToleranceMs, after + ToleranceMs);
    }
}
