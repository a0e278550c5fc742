using System;
using System.Collections.Generic;
using System.Linq;
using System.Threading.Tasks;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;
using ScaleOps.Data;
using ScaleOps.Partitioning.Lifecycle;
using ScaleOps.TestInfrastructure;

namespace ScaleOps.Partitioning.Tests.Lifecycle;

public partial class MaintenanceTests
{
    /// <summary>
    /// The README's metrics and logs of a run: <c>scaleops.partitioning.actions</c> ({action}, by lower-case kind),
    /// <c>.maintenance.duration</c> (s, one per run that ran, none for a dry run or a run another host holds), and the
    /// log events 4001 (created), 4002 (removed), 4003 (moved out of the default), 4005 (not the leader) and 4006 (done).
    /// </summary>
    [Fact]
    public async Task Each_step_is_counted_by_kind_and_logged_and_each_run_is_timed()
    {
        var (host, time, maintenance) = await TableAsync("m_counted", t => t.Retention = 2,
            services: s => s.AddFakeLogging().AddLogging(b => b.SetMinimumLevel(LogLevel.Debug)));
        using var _ = host;
        await database.DataSource.ExecAsync("CREATE TABLE m_counted_default PARTITION OF m_counted DEFAULT");
        await database.DataSource.ExecAsync("INSERT INTO m_counted VALUES (1, '2026-10-05', 'a'), (2, '2026-10-06', 'b')");
        var meter = host.Services.GetRequiredService<ScaleOps.Diagnostics.ScaleOpsMetrics>().Meter;
        using var actions = new MetricCollector<long>(meter, "scaleops.partitioning.actions");
        using var duration = new MetricCollector<double>(meter, "scaleops.partitioning.maintenance.duration");
        var logs = host.Services.GetFakeLogCollector();

        var first = await maintenance.RunMaintenanceAsync();
        Assert.Equal(["Create m_counted_p2026_09", "Create m_counted_p2026_11", "Create m_counted_p2026_12", "Create m_counted_p2027_01",
            "MoveFromDefault m_counted_p2026_10"], first.Actions.Select(a => $"{a.Kind} {a.Partition}").Order(StringComparer.Ordinal));
        time.Advance(TimeSpan.FromDays(40)); // 2027-01-02: 2026_09 and 2026_10 are past retention
        var second = await maintenance.RunMaintenanceAsync();
        Assert.Equal(["Create m_counted_p2027_02", "Create m_counted_p2027_03", "Drop m_counted_p2026_09", "Drop m_counted_p2026_10"],
            second.Actions.Select(a => $"{a.Kind} {a.Partition}").Order(StringComparer.Ordinal));

        // Neither a dry run nor a run another host holds the lock for is a step or a timed run.
        Assert.Empty((await maintenance.RunMaintenanceAsync(dryRun: true)).Actions);
        await using (var other = await AdvisoryLock.TryAcquireAsync(database.DataSource, "scaleops:partitioning:maintenance"))
        {
            Assert.False((await maintenance.RunMaintenanceAsync()).Ran);
        }

        Assert.Equal("{action}", actions.Instrument!.Unit);
        Assert.Equal(
            new Dictionary<string, long> { ["create"] = 6, ["drop"] = 2, ["movefromdefault"] = 1 },
            actions.GetMeasurementSnapshot().GroupBy(m => (string)m.Tags["kind"]!).ToDictionary(g => g.Key, g => g.Sum(m => m.Value)));
        Assert.Equal("s", duration.Instrument!.Unit);
        Assert.Equal(2, duration.GetMeasurementSnapshot().Count);
        Assert.All(duration.GetMeasurementSnapshot(), m => Assert.True(m.Value > 0, $"{m.Value}"));

        var records = logs.GetSnapshot();
        string[] Messages(int id) => [.. records.Where(r => r.Id.Id == id).Select(r => r.Message)];
        Assert.Equal(
            ["m_counted_p2026_09", "m_counted_p2026_11", "m_counted_p2026_12", "m_counted_p2027_01", "m_counted_p2027_02", "m_counted_p2027_03"],
            Messages(4001).Select(m => m.Split(' ')[2]).Order(StringComparer.Ordinal));
        Assert.All(Messages(4001), m => Assert.EndsWith(" of \"public\".\"m_counted\"", m, StringComparison.Ordinal));
        Assert.Equal(
            ["Dropped partition m_counted_p2026_09 of \"public\".\"m_counted\"", "Dropped partition m_counted_p2026_10 of \"public\".\"m_counted\""],
            Messages(4002));
        Assert.Equal(["Moved 2 rows of \"public\".\"m_counted\" out of its default partition into m_counted_p2026_10"], Messages(4003));
        Assert.Equal(LogLevel.Warning, records.Single(r => r.Id.Id == 4003).Level);
        Assert.Single(Messages(4005));
        Assert.Equal(2, Messages(4006).Length);
        Assert.StartsWith("Partition maintenance did 5 steps (0 failed) in ", Messages(4006)[0], StringComparison.Ordinal);
        Assert.StartsWith("Partition maintenance did 4 steps (0 failed) in ", Messages(4006)[1], StringComparison.Ordinal);
    }

    /// <summary>
    /// A scheduled run that fails as a whole (here no connection for the maintenance lock: the pool's two connections
    /// are held; a run needs both, one holds the lock) is logged as 4007 ("it runs again at the next tick"), and the next tick runs again.
    /// </summary>
    [Fact]
    public async Task A_scheduled_run_that_fails_is_logged_and_the_next_tick_runs_again()
    {
        var (host, time, _) = await TableAsync("m_next_tick", options: o => o.MaintenanceInterval = TimeSpan.FromDays(1),
            services: s => s.AddFakeLogging(), connectionString: database.ConnectionString + ";Maximum Pool Size=2;Timeout=1");
        using var _ = host;
        var runs = System.Threading.Channels.Channel.CreateUnbounded<bool>();
        host.Services.GetServices<Microsoft.Extensions.Hosting.IHostedService>().OfType<Internal.MaintenanceHostedService>().Single().Ran +=
            () => runs.Writer.TryWrite(true);
        await host.StartAsync();

        var pool = host.Services.GetRequiredService<Npgsql.NpgsqlDataSource>();
        await using (var held = await pool.OpenConnectionAsync())
        await using (var alsoHeld = await pool.OpenConnectionAsync())
        {
            time.Advance(TimeSpan.FromDays(1));
            await runs.Reader.ReadAsync().AsTask().WaitAsync("the scheduled run without a connection");
        }

        var failed = host.Services.GetFakeLogCollector().GetSnapshot().Where(r => r.Id.Id == 4007).ToList();
        Assert.NotEmpty(failed);
        Assert.Equal(LogLevel.Error, failed[0].Level);
        Assert.Equal("Partition maintenance failed; it runs again at the next tick", failed[0].Message);
        Assert.IsAssignableFrom<Npgsql.NpgsqlException>(failed[0].Exception);
        Assert.Empty(await database.DataSource.PartitionsAsync("public.m_next_tick"));

        time.Advance(TimeSpan.FromDays(1));
        await runs.Reader.ReadAsync().AsTask().WaitAsync("the next scheduled run");
        Assert.Equal(5, (await database.DataSource.PartitionsAsync("public.m_next_tick")).Count);
        await host.StopAsync();
    }
}
