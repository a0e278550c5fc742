using System;
using System.Linq;
using System.Threading.Tasks;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;
using ScaleOps.Partitioning.Lifecycle;
using Xunit;

namespace ScaleOps.Partitioning.Tests.Lifecycle;

public partial class MaintenanceTests
{
    /// <summary>
    /// <see cref="RetentionMode.Detach"/> keeps the detached table under the partition's name. Late rows of that period,
    /// in a default partition, then moved into a new partition of the same name: its CREATE TABLE failed with 42P07 at
    /// every run and the rows never left the default. The new partition takes the next free name (<c>_2</c>, <c>_3</c>...),
    /// and no row is lost: the detached table keeps its own, the new partition gets the late ones.
    /// </summary>
    [Fact]
    public async Task Late_rows_of_a_period_whose_partition_was_detached_move_into_a_partition_under_another_name()
    {
        var (host, time, maintenance) = await TableAsync("m_relate", t => { t.Retention = 2; t.RetentionMode = RetentionMode.Detach; });
        using var _ = host;
        await maintenance.RunMaintenanceAsync();
        await database.DataSource.ExecAsync("INSERT INTO m_relate VALUES (1, '2026-09-15', 'kept')");
        time.Advance(TimeSpan.FromDays(40)); // 2027-01-02: cutoff 2026-11-01, 2026_09 and 2026_10 are detached
        var detached = await maintenance.RunMaintenanceAsync();
        Assert.Empty(detached.Failures);
        Assert.Contains(detached.Actions, a => a.Kind == PartitionActionKind.Detach && a.Partition == "m_relate_p2026_09");

        await database.DataSource.ExecAsync(
            "CREATE TABLE m_relate_default PARTITION OF m_relate DEFAULT; INSERT INTO m_relate VALUES (2, '2026-09-20', 'late'), (3, '2026-09-21', 'late')");
        var moved = await maintenance.RunMaintenanceAsync();
        Assert.Empty(moved.Failures);
        Assert.Equal(["MoveFromDefault m_relate_p2026_09_2 2"],
            moved.Actions.Where(a => a.Kind == PartitionActionKind.MoveFromDefault).Select(a => $"{a.Kind} {a.Partition} {a.Rows}"));
        Assert.Equal(["m_relate_p2026_09_2", "m_relate_p2026_09_2"],
            await database.DataSource.ColumnAsync("SELECT tableoid::regclass::text FROM m_relate WHERE id IN (2, 3) ORDER BY id"));
        Assert.Equal(["1 kept"], await database.DataSource.ColumnAsync("SELECT id || ' ' || body FROM m_relate_p2026_09"));
        Assert.Equal(0, Assert.Single(await maintenance.GetHealthAsync()).DefaultPartitionRows);

        // Past retention, the new partition is detached in turn, under its own name, and a later late row takes _3.
        var again = await maintenance.RunMaintenanceAsync();
        Assert.Empty(again.Failures);
        Assert.Equal(["Detach m_relate_p2026_09_2"], again.Actions.Select(a => $"{a.Kind} {a.Partition}"));
        await database.DataSource.ExecAsync("INSERT INTO m_relate VALUES (4, '2026-09-22', 'later')");
        var third = await maintenance.RunMaintenanceAsync();
        Assert.Empty(third.Failures);
        Assert.Equal(["MoveFromDefault m_relate_p2026_09_3"], third.Actions.Select(a => $"{a.Kind} {a.Partition}"));
        Assert.Equal(4L, await database.DataSource.ScalarAsync<long>(
            "SELECT (SELECT count(*) FROM m_relate_p2026_09) + (SELECT count(*) FROM m_relate_p2026_09_2) + (SELECT count(*) FROM m_relate_p2026_09_3)"));
    }

    /// <summary>
    /// A period created again after its partition was detached (the clock set back, here from January to October): its
    /// create failed with 42P07 at every run, since the detached table has the period's name, and the current month had
    /// no partition. It takes the next free name.
    /// </summary>
    [Fact]
    public async Task A_period_created_again_after_its_partition_was_detached_takes_another_name()
    {
        var (host, time, maintenance) = await TableAsync("m_reclock", t => { t.Retention = 2; t.RetentionMode = RetentionMode.Detach; });
        using var _ = host;
        await maintenance.RunMaintenanceAsync();
        time.Advance(TimeSpan.FromDays(40)); // 2027-01-02: 2026_09 and 2026_10 are detached
        Assert.Empty((await maintenance.RunMaintenanceAsync()).Failures);

        // A host whose clock says 2026-10-05 (the same table and options).
        var back = new FakeTimeProvider(new DateTimeOffset(2026, 10, 5, 10, 0, 0, TimeSpan.Zero));
        using var earlier = TestHost.Build(database.ConnectionString, o =>
        {
            o.Audit.Enabled = false;
            o.RunMaintenanceOnStart = false;
            o.DdlRetryDelay = TimeSpan.Zero;
            o.Tables.Add(new PartitionedTableOptions
            {
                Name = "m_reclock", Column = "created_at", Premake = 2, Retention = 2, RetentionMode = RetentionMode.Detach,
            });
        }, back, schema: "so_reclock");
        var maintenanceBack = earlier.Services.GetRequiredService<IPartitionMaintenance>();
        var run = await maintenanceBack.RunMaintenanceAsync();
        Assert.Empty(run.Failures);
        Assert.Equal(["Create m_reclock_p2026_10_2"], run.Actions.Select(a => $"{a.Kind} {a.Partition}"));
        Assert.Contains("m_reclock_p2026_10_2 FOR VALUES FROM ('2026-10-01 00:00:00+00') TO ('2026-11-01 00:00:00+00')",
            await database.DataSource.PartitionsAsync("public.m_reclock"));
        Assert.Equal(0, Assert.Single(await maintenanceBack.GetHealthAsync()).MissingFuturePartitions);
    }

    /// <summary>
    /// A detached table renamed by its owner keeps its indexes' names: the partition's name is free again, but the
    /// name of its template index is not, and the new partition's CREATE INDEX would fail (42P07) at every run. The
    /// name is skipped for the next one whose index names are free too.
    /// </summary>
    [Fact]
    public async Task A_name_whose_template_index_name_a_renamed_detached_table_keeps_is_skipped()
    {
        var (host, time, maintenance) = await TableAsync("m_reidx", t =>
        {
            t.Retention = 2;
            t.RetentionMode = RetentionMode.Detach;
            t.Indexes.Add(new PartitionIndexTemplate { Suffix = "brin", Columns = ["created_at"], Brin = true });
        });
        using var _ = host;
        await maintenance.RunMaintenanceAsync();
        time.Advance(TimeSpan.FromDays(40)); // 2027-01-02: 2026_09 and 2026_10 are detached
        Assert.Empty((await maintenance.RunMaintenanceAsync()).Failures);
        await database.DataSource.ExecAsync(
            "ALTER TABLE m_reidx_p2026_09 RENAME TO m_reidx_kept_2026_09;"
            + "CREATE TABLE m_reidx_default PARTITION OF m_reidx DEFAULT; INSERT INTO m_reidx VALUES (1, '2026-09-20', 'late')");
        Assert.Equal(["m_reidx_p2026_09_brin"], await database.DataSource.ColumnAsync(
            "SELECT indexrelid::regclass::text FROM pg_index WHERE indrelid = 'm_reidx_kept_2026_09'::regclass"));

        var moved = await maintenance.RunMaintenanceAsync();
        Assert.Empty(moved.Failures);
        Assert.Equal(["MoveFromDefault m_reidx_p2026_09_2"],
            moved.Actions.Where(a => a.Kind == PartitionActionKind.MoveFromDefault).Select(a => $"{a.Kind} {a.Partition}"));
        Assert.Equal(["m_reidx_p2026_09_2_brin"], await database.DataSource.ColumnAsync(
            "SELECT indexrelid::regclass::text FROM pg_index WHERE indrelid = 'm_reidx_p2026_09_2'::regclass"));
    }
}
