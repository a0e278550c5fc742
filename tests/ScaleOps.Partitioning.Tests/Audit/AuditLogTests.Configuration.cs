using System;
using System.Collections.Generic;
using System.Linq;
using System.Threading.Tasks;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging.Testing;
using Microsoft.Extensions.Time.Testing;
using Npgsql;
using ScaleOps.Partitioning.Audit;
using ScaleOps.Tenancy;
using ScaleOps.TestInfrastructure;

namespace ScaleOps.Partitioning.Tests.Audit;

public partial class AuditLogTests
{
    /// <summary>
    /// <c>Audit:Capacity</c>, <c>Audit:BatchSize</c> and <c>Audit:FlushInterval</c> read from configuration keys take
    /// effect (the code sets none of them), and each written batch is on the meter: <c>audit.written</c> ({event}, the
    /// batch's events) and <c>audit.flush.duration</c> (s, one per batch).
    /// </summary>
    [Fact]
    public async Task Capacity_and_flush_interval_from_configuration_keys_take_effect_and_batches_are_metered()
    {
        const string P = "ScaleOps:Partitioning:Audit:";
        var time = new FakeTimeProvider(TestHost.Monday);
        using var host = TestHost.Build(database.ConnectionString, o => o.MaintenanceInterval = TimeSpan.Zero, time, "audit_cfg",
            settings: new Dictionary<string, string?> { [P + "Capacity"] = "5", [P + "BatchSize"] = "3", [P + "FlushInterval"] = "00:00:30" });
        var meter = host.Services.GetRequiredService<ScaleOps.Diagnostics.ScaleOpsMetrics>().Meter;
        using var written = new MetricCollector<long>(meter, "scaleops.partitioning.audit.written");
        using var flushes = new MetricCollector<double>(meter, "scaleops.partitioning.audit.flush.duration");
        await host.StartAsync();
        var audit = host.Services.GetRequiredService<IAuditLog>();
        var tenants = host.Services.GetRequiredService<ITenantContext>();

        // Capacity 5 (the default is 10,000): with PostgreSQL blocked, 3 events in the waiting COPY and 5 queued, the ninth waits.
        await using (var blocker = await database.DataSource.OpenConnectionAsync())
        await using (var blockTx = await blocker.BeginTransactionAsync())
        {
            await using (var lockTable = new NpgsqlCommand("LOCK TABLE audit_cfg.audit_log IN ACCESS EXCLUSIVE MODE", blocker, blockTx))
            {
                await lockTable.ExecuteNonQueryAsync();
            }

            using var scope = tenants.BeginScope(new TenantId("acme"));
            for (var i = 0; i < 8; i++)
            {
                await audit.WriteAsync(Entry("pressure")).AsTask().WaitAsync("room in the queue");
            }

            var waiting = audit.WriteAsync(Entry("pressure")).AsTask();
            Assert.False(waiting.IsCompleted, "the ninth write must wait for room");
            await blockTx.RollbackAsync();
            await waiting.WaitAsync("the waiting write once PostgreSQL is free");
            await audit.FlushAsync().WaitAsync("the flush");
        }

        Assert.Equal(9L, await database.DataSource.ScalarAsync<long>("SELECT count(*) FROM audit_cfg.audit_log"));

        // FlushInterval 30 s (the default is 1 s): a partial batch is written only once 30 s of (fake) time have passed
        // since its first event was taken; time moves only here, a second at a time.
        using (tenants.BeginScope(new TenantId("acme")))
        {
            await audit.WriteAsync(Entry("timed"));
        }

        var advanced = TimeSpan.Zero;
        await TestSignal.UntilAsync(async () =>
        {
            time.Advance(TimeSpan.FromSeconds(1));
            advanced += TimeSpan.FromSeconds(1);
            return await database.DataSource.ScalarAsync<long>("SELECT count(*) FROM audit_cfg.audit_log") == 10;
        }, "the partial batch to be written after its flush interval");
        Assert.True(advanced >= TimeSpan.FromSeconds(30), $"written after {advanced} of fake time");

        Assert.Equal("{event}", written.Instrument!.Unit);
        Assert.Equal("s", flushes.Instrument!.Unit);
        var batches = written.GetMeasurementSnapshot();
        Assert.Equal(10L, batches.Sum(m => m.Value));
        Assert.All(batches, m => Assert.InRange(m.Value, 1L, 3L)); // BatchSize 3
        Assert.Equal(batches.Count, flushes.GetMeasurementSnapshot().Count);
        Assert.All(flushes.GetMeasurementSnapshot(), m => Assert.True(m.Value > 0, $"{m.Value}"));
        await host.StopAsync();
    }

    /// <summary>
    /// Events that cannot be written before the host's stop gives up (PostgreSQL blocked, the stop's token cancelled)
    /// are logged as dropped: 4011, critical, with their count (the batch in flight and the queued ones).
    /// </summary>
    [Fact]
    public async Task Events_not_written_when_the_stop_gives_up_are_logged_as_dropped_with_their_count()
    {
        var (host, audit, tenants, _) = await StartAsync("audit_dropped", a => a.BatchSize = 3,
            services: s => s.AddFakeLogging());
        using var _ = host;
        await using var blocker = await database.DataSource.OpenConnectionAsync();
        await using var blockTx = await blocker.BeginTransactionAsync();
        await using (var lockTable = new NpgsqlCommand("LOCK TABLE audit_dropped.audit_log IN ACCESS EXCLUSIVE MODE", blocker, blockTx))
        {
            await lockTable.ExecuteNonQueryAsync();
        }

        using (tenants.BeginScope(new TenantId("acme")))
        {
            for (var i = 0; i < 5; i++) // 3 in the blocked COPY, 2 queued
            {
                await audit.WriteAsync(Entry("dropped")).AsTask().WaitAsync("room in the queue");
            }
        }

        using (var stopped = new System.Threading.CancellationTokenSource())
        {
            await stopped.CancelAsync();
            await host.StopAsync(stopped.Token);
        }

        var logs = host.Services.GetFakeLogCollector();
        await TestSignal.UntilAsync(() => Task.FromResult(logs.GetSnapshot().Any(r => r.Id.Id == 4011)), "the dropped events to be logged");
        var dropped = Assert.Single(logs.GetSnapshot(), r => r.Id.Id == 4011);
        Assert.Equal(Microsoft.Extensions.Logging.LogLevel.Critical, dropped.Level);
        Assert.Equal("5 audit events could not be written before shutdown", dropped.Message);
        await blockTx.RollbackAsync();
        Assert.Equal(0L, await database.DataSource.ScalarAsync<long>("SELECT count(*) FROM audit_dropped.audit_log"));
    }
}
