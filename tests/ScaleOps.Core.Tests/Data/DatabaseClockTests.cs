using System;
using System.Globalization;
using System.Linq;
using System.Threading.Tasks;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Logging.Testing;
using Microsoft.Extensions.Time.Testing;
using Npgsql;
using ScaleOps.Data;
using ScaleOps.Internal;
using ScaleOps.TestInfrastructure;

namespace ScaleOps.Core.Tests.Data;

/// <summary>
/// The estimate of PostgreSQL's clock (<see cref="DatabaseClock"/>): the host's clock plus an offset measured with
/// <c>clock_timestamp()</c>, kept when a measurement fails, measured again every 5 minutes.
/// </summary>
public sealed class DatabaseClockTests(PostgresDatabase database) : IClassFixture<PostgresDatabase>
{
    /// <summary>
    /// How far the estimate may be from <c>clock_timestamp()</c>: a second, against skews of 10 and 20 minutes. The
    /// estimate is off by half its shortest measuring round trip, which a loaded machine can stretch; this is a test
    /// that the skew is corrected, not a precision claim.
    /// </summary>
    private static readonly TimeSpan Tolerance = TimeSpan.FromSeconds(1);

    private static readonly TimeSpan TwentyMinutes = TimeSpan.FromMinutes(20);

    [Theory]
    [InlineData(-20)]
    [InlineData(20)]
    public async Task The_measured_offset_puts_a_host_clock_20_minutes_off_on_the_database_time(int minutes)
    {
        var clock = new DatabaseClock(database.DataSource, new SkewedTime(TimeSpan.FromMinutes(minutes)), NullLogger.Instance);
        await clock.MeasureAsync();

        Assert.True(clock.IsMeasured);
        Assert.InRange(clock.Offset, -TimeSpan.FromMinutes(minutes) - TimeSpan.FromSeconds(1), -TimeSpan.FromMinutes(minutes) + TimeSpan.FromSeconds(1));
        await NearDatabaseTimeAsync(clock, database.DataSource);
    }

    [Fact]
    public async Task AddScaleOps_measures_the_clock_while_the_host_starts()
    {
        var builder = Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings());
        builder.Services.AddScaleOps(o => o.ConnectionString = database.ConnectionString);
        builder.Services.AddSingleton<TimeProvider>(new SkewedTime(TwentyMinutes));
        builder.Services.AddSingleton(new MeasuredDatabaseClock()); // measured for the system clock only, unless asked
        using var host = builder.Build();
        await host.StartAsync();
        try
        {
            var clock = host.Services.GetRequiredService<DatabaseClock>();
            Assert.True(clock.IsMeasured);
            await NearDatabaseTimeAsync(clock, database.DataSource);
        }
        finally
        {
            await host.StopAsync();
        }
    }

    [Fact]
    public async Task A_host_on_a_fake_clock_takes_it_as_the_database_clock_however_far_the_test_moves_it()
    {
        // Measured for any TimeProvider, a FakeTimeProvider moved 11 minutes on was "corrected" back to the database's time
        // at the next measurement (5 minutes of its own time later), so its moves stopped counting.
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var builder = Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings());
        builder.Services.AddScaleOps(o => o.ConnectionString = database.ConnectionString);
        builder.Services.AddSingleton<TimeProvider>(time);
        using var host = builder.Build();
        await host.StartAsync();
        try
        {
            var clock = host.Services.GetRequiredService<DatabaseClock>();
            time.Advance(TimeSpan.FromMinutes(11));
            await clock.MeasureAsync(); // what a read starts once 5 minutes passed
            Assert.False(clock.IsMeasured);
            Assert.Equal(time.GetUtcNow(), clock.GetUtcNow());
        }
        finally
        {
            await host.StopAsync();
        }
    }

    [Fact]
    public async Task Before_a_measurement_succeeds_the_clock_is_the_hosts_and_a_failed_one_keeps_the_last_offset()
    {
        var host = new SkewedTime(TwentyMinutes);

        // Nothing listens on port 1: the measurement fails, the offset stays 0 and reading the clock does not throw.
        await using var nowhere = NpgsqlDataSource.Create("Host=127.0.0.1;Port=1;Username=nobody;Timeout=2");
        var unreachable = new DatabaseClock(nowhere, host, NullLogger.Instance);
        await unreachable.MeasureAsync();
        Assert.False(unreachable.IsMeasured);
        Assert.Equal(TimeSpan.Zero, unreachable.Offset);
        var read = unreachable.GetUtcNow();
        Assert.InRange(read - host.GetUtcNow(), -TimeSpan.FromSeconds(1), TimeSpan.Zero);

        // Measured, then the data source is gone and the host's clock jumps 10 more minutes: a measurement that succeeded
        // would give another offset; the failed one keeps the last.
        var dataSource = NpgsqlDataSource.Create(database.ConnectionString);
        var clock = new DatabaseClock(dataSource, host, NullLogger.Instance);
        await clock.MeasureAsync();
        await NearDatabaseTimeAsync(clock, database.DataSource);
        var measured = clock.Offset;
        await dataSource.DisposeAsync();
        host.Offset = TwentyMinutes + TimeSpan.FromMinutes(10);
        await clock.MeasureAsync();
        Assert.Equal(measured, clock.Offset);
    }

    [Fact]
    public async Task The_offset_is_measured_again_in_the_background_once_it_is_5_minutes_old()
    {
        // A fake clock moved by hand: the database's time minus the host's changes by as much, which only a new
        // measurement sees.
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var clock = new DatabaseClock(database.DataSource, time, NullLogger.Instance);
        await clock.MeasureAsync();
        var first = clock.Offset;

        time.Advance(DatabaseClock.RefreshInterval - TimeSpan.FromSeconds(1));
        clock.GetUtcNow();
        Assert.Equal(first, clock.Offset); // not yet due: no measurement started

        time.Advance(TimeSpan.FromSeconds(1));
        clock.GetUtcNow(); // due: starts one in the background
        await TestSignal.UntilAsync(
            () => Task.FromResult((first - clock.Offset) > DatabaseClock.RefreshInterval - TimeSpan.FromSeconds(10)),
            "the offset to be measured again");
    }

    [Fact]
    public async Task A_host_clock_a_second_or_more_off_the_database_is_reported_once_not_at_every_measurement()
    {
        var host = new SkewedTime(-TwentyMinutes);
        var logger = new FakeLogger();
        var clock = new DatabaseClock(database.DataSource, host, logger);
        await clock.MeasureAsync();
        await clock.MeasureAsync();

        var reported = Assert.Single(logger.Collector.GetSnapshot(), r => r.Id.Id == 1004);
        Assert.Equal(LogLevel.Warning, reported.Level);
        var offsetMs = long.Parse(reported.StructuredState!.Single(p => p.Key == "OffsetMs").Value!, CultureInfo.InvariantCulture);
        Assert.InRange(offsetMs, TwentyMinutes.TotalMilliseconds - 1000, TwentyMinutes.TotalMilliseconds + 1000);

        host.Offset = TimeSpan.Zero; // synchronised again: nothing more to report, and a later skew is reported anew
        await clock.MeasureAsync();
        host.Offset = TimeSpan.FromMinutes(5);
        await clock.MeasureAsync();
        Assert.Equal(2, logger.Collector.GetSnapshot().Count(r => r.Id.Id == 1004));

        var synced = new FakeLogger();
        var onTime = new DatabaseClock(database.DataSource, TimeProvider.System, synced);
        await onTime.MeasureAsync();
        Assert.True(onTime.IsMeasured);
        Assert.DoesNotContain(synced.Collector.GetSnapshot(), r => r.Id.Id == 1004);
    }

    /// <summary>Reads <c>clock_timestamp()</c> between two readings of the estimate: it lies between them, give or take the tolerance.</summary>
    private static async Task NearDatabaseTimeAsync(DatabaseClock clock, NpgsqlDataSource dataSource)
    {
        await using var connection = await dataSource.OpenConnectionAsync();
        await using var command = new NpgsqlCommand("SELECT clock_timestamp()", connection);
        await command.ExecuteScalarAsync(); // warm
        var before = clock.GetUtcNow();
        var databaseNow = new DateTimeOffset((DateTime)(await command.ExecuteScalarAsync())!);
        var after = clock.GetUtcNow();
        Assert.InRange(databaseNow, before - Tolerance, after + Tolerance);
    }
}
