using System;
using System.Threading.Tasks;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using ScaleOps.Caching.Internal.L2;
using ScaleOps.Caching.Tests.Support;

namespace ScaleOps.Caching.Tests.Internal;

public sealed class RedisConnectionTests(SingleRedis redis) : IClassFixture<SingleRedis>
{
    [Fact]
    public async Task An_open_breaker_lets_one_probe_through_and_a_probe_that_never_reports_expires()
    {
        var time = new FakeTimeProvider();
        // A generous client timeout, as CacheNode uses: under a loaded CI the 250 ms default can miss the first connect,
        // and this test is about the breaker, not about connecting.
        var options = new CachingOptions
        {
            RedisConnectionString = redis.ConnectionString,
            BreakerDuration = TimeSpan.FromSeconds(5),
            RedisTimeout = TimeSpan.FromSeconds(5),
        };
        await using var connection = new RedisConnection(options, time, NullLogger.Instance);
        await connection.StartAsync();
        Assert.NotNull(connection.TryGetReadyDatabase());

        connection.ReportFailure("test");
        Assert.Null(connection.TryGetReadyDatabase());
        Assert.Null(await connection.TryGetDatabaseAsync()); // open

        time.Advance(TimeSpan.FromSeconds(5));
        Assert.NotNull(await connection.TryGetDatabaseAsync()); // the probe; its caller never reports
        Assert.Null(await connection.TryGetDatabaseAsync());    // one probe at a time

        time.Advance(TimeSpan.FromSeconds(5));
        Assert.NotNull(await connection.TryGetDatabaseAsync()); // the silent probe expired: a new one
        connection.ReportSuccess();
        Assert.NotNull(connection.TryGetReadyDatabase());
        Assert.True(connection.IsAvailable);
    }

    [Fact]
    public async Task RedisTimeout_becomes_the_clients_connect_sync_and_async_timeouts()
    {
        var options = new CachingOptions { RedisConnectionString = redis.ConnectionString, RedisTimeout = TimeSpan.FromMilliseconds(4321) };
        await using var connection = new RedisConnection(options, TimeProvider.System, NullLogger.Instance);
        await connection.StartAsync();
        var applied = StackExchange.Redis.ConfigurationOptions.Parse(connection.Multiplexer!.Configuration);
        Assert.Equal((4321, 4321, 4321), (applied.ConnectTimeout, applied.SyncTimeout, applied.AsyncTimeout));
    }

    [Fact]
    public async Task Each_client_connection_coming_back_after_a_failure_counts_as_a_restore()
    {
        var options = new CachingOptions { RedisConnectionString = redis.ConnectionString };
        await using var connection = new RedisConnection(options, TimeProvider.System, NullLogger.Instance);
        var restores = 0;
        connection.Restored += _ => restores++;

        connection.OnConnectionRestored(StackExchange.Redis.ConnectionType.Interactive, "first"); // a first connection: no restore
        Assert.Equal(0, restores);

        // Both connections fail; the interactive one returns first (memory is cleared, reads resume), the subscription
        // later: invalidations published in between were missed, so its return must clear memory again.
        connection.OnConnectionFailed(StackExchange.Redis.ConnectionType.Interactive, "test");
        connection.OnConnectionFailed(StackExchange.Redis.ConnectionType.Subscription, "test");
        connection.OnConnectionRestored(StackExchange.Redis.ConnectionType.Interactive, "back");
        Assert.Equal(1, restores);
        connection.OnConnectionRestored(StackExchange.Redis.ConnectionType.Subscription, "back");
        Assert.Equal(2, restores);
        connection.OnConnectionRestored(StackExchange.Redis.ConnectionType.Subscription, "again");
        Assert.Equal(2, restores);
    }
}
