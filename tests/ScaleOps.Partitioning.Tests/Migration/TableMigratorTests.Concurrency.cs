using System;
using System.Threading.Tasks;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using ScaleOps.Partitioning.Migration;
using ScaleOps.TestInfrastructure;
using Xunit;

namespace ScaleOps.Partitioning.Tests.Migration;

public partial class TableMigratorTests
{
    /// <summary>
    /// An UPDATE or DELETE through the table that reaches a moving period's rows while the move attaches their new
    /// partition: it had read the table's partitions (the old table, the default, and no new one) and then waited for the
    /// ATTACH's lock on the default. Once the move committed, its rows were in a partition its plan did not have and no
    /// longer in the default: the UPDATE changed 0 rows and the DELETE deleted none, silently.
    /// </summary>
    [Fact]
    public async Task An_update_or_delete_waiting_on_a_move_applies_to_the_moved_rows()
    {
        const int key = 731_001;
        var (host, _, _) = await SetUpAsync("mig_upd", o => o.LockTimeout = TimeSpan.FromMinutes(1));
        using var _ = host;
        // Once the first period's partition is attached (the move's transaction, still open), the move waits for the test.
        await database.DataSource.ExecAsync(
            "CREATE FUNCTION mig_upd_pause() RETURNS event_trigger LANGUAGE plpgsql AS $$ BEGIN "
            + "IF EXISTS (SELECT 1 FROM pg_class WHERE oid = to_regclass('public.mig_upd_p2026_05') AND relispartition) THEN "
            + $"PERFORM pg_advisory_xact_lock({key}); END IF; END $$;"
            + "CREATE EVENT TRIGGER mig_upd_pause ON ddl_command_end WHEN TAG IN ('ALTER TABLE') EXECUTE FUNCTION mig_upd_pause()");
        try
        {
            await using var pauser = await database.DataSource.OpenConnectionAsync();
            await using (var pause = new NpgsqlCommand($"SELECT pg_advisory_lock({key})", pauser))
            {
                await pause.ExecuteNonQueryAsync();
            }

            var convert = host.Services.GetRequiredService<ITableMigrator>().ConvertAsync("public", "mig_upd", "mig_upd_new");
            await TestSignal.UntilAsync(async () => convert.IsCompleted || await database.DataSource.ScalarAsync<long>(
                $"SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND objid = {key} AND NOT granted "
                + "AND database = (SELECT oid FROM pg_database WHERE datname = current_database())") > 0, "the move of 2026_05 to attach its partition");
            Assert.False(convert.IsCompleted);

            // Rows 5 and 6 are May's (2026-05-01 + 750 and 900 minutes), in the partition being attached.
            await using var updater = await database.DataSource.OpenConnectionAsync();
            await using var deleter = await database.DataSource.OpenConnectionAsync();
            await using var update = new NpgsqlCommand("UPDATE mig_upd SET body = 'updated during the move' WHERE id = 5", updater);
            await using var delete = new NpgsqlCommand("DELETE FROM mig_upd WHERE id = 6", deleter);
            var updated = update.ExecuteNonQueryAsync();
            var deleted = delete.ExecuteNonQueryAsync();
            await TestSignal.UntilAsync(async () => await database.DataSource.ScalarAsync<long>(
                $"SELECT count(DISTINCT pid) FROM pg_locks WHERE NOT granted AND pid IN ({updater.ProcessID}, {deleter.ProcessID})") == 2,
                "the UPDATE and the DELETE to wait for the move");

            await using (var resume = new NpgsqlCommand($"SELECT pg_advisory_unlock({key})", pauser))
            {
                await resume.ExecuteNonQueryAsync();
            }

            await convert.WaitAsync("the conversion");
            Assert.Equal(1, await updated.WaitAsync("the UPDATE"));
            Assert.Equal(1, await deleted.WaitAsync("the DELETE"));
            Assert.Equal("updated during the move", await database.DataSource.ScalarAsync<string>("SELECT body FROM mig_upd WHERE id = 5"));
            Assert.Equal(0L, await database.DataSource.ScalarAsync<long>("SELECT count(*) FROM mig_upd WHERE id = 6"));
            Assert.Equal(1999L, await database.DataSource.ScalarAsync<long>("SELECT count(*) FROM mig_upd"));
        }
        finally
        {
            await database.DataSource.ExecAsync("DROP EVENT TRIGGER IF EXISTS mig_upd_pause");
        }
    }

    /// <summary>
    /// The application deletes rows while the conversion runs: the conversion compared the table's row count at its end
    /// with the count at its start and threw ("has 1999 rows after the conversion but had 2000 before") although every
    /// move had verified its rows and nothing was lost.
    /// </summary>
    [Fact]
    public async Task Rows_deleted_by_the_application_during_the_conversion_do_not_fail_it()
    {
        var (host, _, _) = await SetUpAsync("mig_del");
        using var _ = host;
        await using var app = await database.DataSource.OpenConnectionAsync();
        var deleting = new InlineProgress(p =>
        {
            if (p.Step == "move mig_del_p2026_05")
            {
                using var delete = new NpgsqlCommand("DELETE FROM mig_del WHERE id IN (10, 1990)", app);
                Assert.Equal(2, delete.ExecuteNonQuery());
            }
        });

        var result = await host.Services.GetRequiredService<ITableMigrator>().ConvertAsync("public", "mig_del", "mig_del_new", deleting);
        Assert.Equal(6, result.PeriodsMoved);
        Assert.Equal(1998L, result.RowsAfter);
        Assert.Equal(1998L, await database.DataSource.ScalarAsync<long>("SELECT count(*) FROM mig_del"));
    }
}
