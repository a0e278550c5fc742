using System;
using System.Linq;
using System.Threading.Tasks;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Testing;
using ScaleOps.Partitioning.Lifecycle;
using Xunit;

namespace ScaleOps.Partitioning.Tests.Lifecycle;

public partial class MaintenanceTests
{
    /// <summary>
    /// Another table's FOREIGN KEY references the partitioned table, and some of its rows reference rows that sit in the
    /// default partition. The move out of the default is DELETE ... INSERT: the DELETE fired the referencing side's
    /// ON DELETE action, so CASCADE deleted the referencing rows, SET NULL / SET DEFAULT rewrote them (silently), and
    /// NO ACTION / RESTRICT failed the move with PostgreSQL's error naming an internal clone of the constraint. The move
    /// is refused instead, naming the constraint and the referencing table; nothing changes in either table.
    /// </summary>
    [Theory]
    [InlineData("m_fk_cascade", "ON DELETE CASCADE", "CASCADE")]
    [InlineData("m_fk_setnull", "ON DELETE SET NULL", "SET NULL")]
    [InlineData("m_fk_setdefault", "ON DELETE SET DEFAULT", "SET DEFAULT")]
    [InlineData("m_fk_noaction", "", "NO ACTION")]
    [InlineData("m_fk_restrict", "ON DELETE RESTRICT", "RESTRICT")]
    [InlineData("m_fk_deferred", "DEFERRABLE INITIALLY DEFERRED", "NO ACTION")]
    public async Task A_move_that_would_fire_a_foreign_keys_delete_action_is_refused_and_no_row_changes(string name, string onDelete, string shown)
    {
        var (host, _, maintenance) = await TableAsync(name, services: s => s.AddFakeLogging());
        using var _ = host;
        await database.DataSource.ExecAsync(
            $"ALTER TABLE {name} ADD PRIMARY KEY (id, created_at);"
            + $"CREATE TABLE {name}_default PARTITION OF {name} DEFAULT;"
            + $"INSERT INTO {name} SELECT g, timestamptz '2026-09-01' + g * interval '6 hours', 'row ' || g FROM generate_series(1, 100) g;"
            + $"CREATE TABLE {name}_line (line bigint PRIMARY KEY, order_id bigint, order_at timestamptz, qty int, "
            + $"  CONSTRAINT {name}_line_order FOREIGN KEY (order_id, order_at) REFERENCES {name} (id, created_at) {onDelete});"
            + $"INSERT INTO {name}_line SELECT id, id, created_at, 1 FROM {name} WHERE id % 2 = 0");
        var lines = $"SELECT md5(string_agg({name}_line::text, '|' ORDER BY line)) FROM {name}_line";
        var before = await database.DataSource.ScalarAsync<string>(lines);
        var rows = await database.DataSource.ScalarAsync<string>($"SELECT md5(string_agg({name}::text, '|' ORDER BY id)) FROM {name}");

        var result = await maintenance.RunMaintenanceAsync();

        var failure = Assert.Single(result.Failures);
        Assert.Equal(PartitionActionKind.MoveFromDefault, failure.Action!.Kind);
        Assert.Equal($"{name}_p2026_09", failure.Action.Partition);
        var error = Assert.IsType<InvalidOperationException>(failure.Error);
        Assert.Contains($"foreign key \"{name}_line_order\" of \"public\".\"{name}_line\" (ON DELETE {shown})", error.Message, StringComparison.Ordinal);
        Assert.Contains("50 rows", error.Message, StringComparison.Ordinal);
        var logged = Assert.Single(host.Services.GetFakeLogCollector().GetSnapshot(), r => r.Id.Id == 4008);
        Assert.Same(error, logged.Exception);

        Assert.Equal(before, await database.DataSource.ScalarAsync<string>(lines));
        Assert.Equal(50L, await database.DataSource.ScalarAsync<long>($"SELECT count(*) FROM {name}_line WHERE order_id IS NOT NULL"));
        Assert.Equal(rows, await database.DataSource.ScalarAsync<string>($"SELECT md5(string_agg({name}::text, '|' ORDER BY id)) FROM {name}"));
        Assert.Equal(100L, await database.DataSource.ScalarAsync<long>($"SELECT count(*) FROM {name}_default"));
        Assert.Equal(0L, await database.DataSource.ScalarAsync<long>($"SELECT count(*) FROM pg_class WHERE relname = '{name}_p2026_09'"));
        Assert.Equal(0L, await database.DataSource.ScalarAsync<long>(
            $"SELECT count(*) FROM pg_constraint WHERE conrelid = '{name}_default'::regclass AND contype = 'c'")); // no exclusion left

        // Refused again on the next run, still without an effect; the other steps went on (the months ahead exist).
        var again = await maintenance.RunMaintenanceAsync();
        Assert.Equal($"{name}_p2026_09", Assert.Single(again.Failures).Action!.Partition);
        Assert.Equal(before, await database.DataSource.ScalarAsync<string>(lines));
        Assert.Equal(4, (await database.DataSource.PartitionsAsync($"public.{name}")).Count(p => !p.Contains("DEFAULT", StringComparison.Ordinal)));
    }

    /// <summary>
    /// A foreign key does not stop a move whose rows no referencing row points at (the referencing rows point at rows
    /// of the open period, which stay in the default): the move's DELETE finds nothing to act on, every row is kept.
    /// </summary>
    [Fact]
    public async Task Rows_no_referencing_row_points_at_move_and_the_referencing_rows_stay()
    {
        const string name = "m_fk_free";
        var (host, _, maintenance) = await TableAsync(name);
        using var _ = host;
        await database.DataSource.ExecAsync(
            $"ALTER TABLE {name} ADD PRIMARY KEY (id, created_at);"
            + $"CREATE TABLE {name}_default PARTITION OF {name} DEFAULT;"
            + $"INSERT INTO {name} SELECT g, timestamptz '2026-09-01' + g * interval '6 hours', 'row ' || g FROM generate_series(1, 100) g;"
            + $"INSERT INTO {name} SELECT g, timestamptz '2026-11-01' + g * interval '1 hour', 'open ' || g FROM generate_series(101, 110) g;"
            + $"CREATE TABLE {name}_line (line bigint PRIMARY KEY, order_id bigint, order_at timestamptz, "
            + $"  CONSTRAINT {name}_line_order FOREIGN KEY (order_id, order_at) REFERENCES {name} (id, created_at) ON DELETE CASCADE);"
            + $"INSERT INTO {name}_line SELECT id, id, created_at FROM {name} WHERE id > 100");

        var result = await maintenance.RunMaintenanceAsync();

        Assert.Empty(result.Failures);
        Assert.Equal(100, result.Actions.Where(a => a.Kind == PartitionActionKind.MoveFromDefault).Sum(a => a.Rows));
        Assert.Equal(100L, await database.DataSource.ScalarAsync<long>($"SELECT count(*) FROM {name}_p2026_09"));
        Assert.Equal(10L, await database.DataSource.ScalarAsync<long>($"SELECT count(*) FROM {name}_line"));
        Assert.Equal(10L, await database.DataSource.ScalarAsync<long>($"SELECT count(*) FROM {name}_default"));
    }

    /// <summary>
    /// A self-reference: rows of the moved period that reference each other move together (they leave the default in
    /// the same statement, so the ON DELETE action finds nothing); a row of the open period, which stays in the
    /// default, referencing a row of the moved period is what the move would have cascaded to, so it refuses the move.
    /// </summary>
    [Fact]
    public async Task A_self_reference_blocks_the_move_only_from_rows_that_stay_behind()
    {
        const string name = "m_fk_self";
        var (host, _, maintenance) = await TableAsync(name);
        using var _ = host;
        await database.DataSource.ExecAsync(
            $"ALTER TABLE {name} ADD PRIMARY KEY (id, created_at), ADD COLUMN parent_id bigint, ADD COLUMN parent_at timestamptz,"
            + $"  ADD CONSTRAINT {name}_parent FOREIGN KEY (parent_id, parent_at) REFERENCES {name} (id, created_at) ON DELETE CASCADE;"
            + $"CREATE TABLE {name}_default PARTITION OF {name} DEFAULT;"
            + $"INSERT INTO {name} (id, created_at, body) VALUES (1, '2026-09-01', 'root');"
            + $"INSERT INTO {name} (id, created_at, body, parent_id, parent_at) "
            + $"  SELECT g, timestamptz '2026-09-01' + g * interval '6 hours', 'child ' || g, 1, '2026-09-01' FROM generate_series(2, 20) g;"
            + $"INSERT INTO {name} (id, created_at, body, parent_id, parent_at) VALUES (21, '2026-11-02', 'open period', 1, '2026-09-01')");
        const string all = $"SELECT md5(string_agg({name}::text, '|' ORDER BY id)) FROM {name}";
        var before = await database.DataSource.ScalarAsync<string>(all);

        var refused = await maintenance.RunMaintenanceAsync();
        var failure = Assert.Single(refused.Failures);
        Assert.Contains($"foreign key \"{name}_parent\" of \"public\".\"{name}\" (ON DELETE CASCADE): 1 rows", failure.Error.Message, StringComparison.Ordinal);
        Assert.Equal(before, await database.DataSource.ScalarAsync<string>(all));
        Assert.Equal(21L, await database.DataSource.ScalarAsync<long>($"SELECT count(*) FROM {name}_default"));

        await database.DataSource.ExecAsync($"DELETE FROM {name} WHERE id = 21");
        var moved = await maintenance.RunMaintenanceAsync();
        Assert.Empty(moved.Failures);
        Assert.Equal(20L, await database.DataSource.ScalarAsync<long>($"SELECT count(*) FROM {name}_p2026_09"));
        Assert.Equal(19L, await database.DataSource.ScalarAsync<long>($"SELECT count(*) FROM {name} WHERE parent_id = 1"));
    }
}
