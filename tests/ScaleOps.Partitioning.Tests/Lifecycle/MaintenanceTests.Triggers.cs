using System;
using System.Linq;
using System.Threading.Tasks;
using ScaleOps.Partitioning.Lifecycle;
using Xunit;

namespace ScaleOps.Partitioning.Tests.Lifecycle;

public partial class MaintenanceTests
{
    /// <summary>
    /// Rows moved out of the default partition are moved, not deleted: the user's row-level DELETE trigger on the parent
    /// (cloned onto the default) used to fire for every moved row, and an INSERT trigger must not fire either. The
    /// triggers are back as they were afterwards: an enabled one fires again, a disabled one stays disabled.
    /// </summary>
    [Fact]
    public async Task Moving_default_rows_fires_no_user_trigger_and_leaves_the_triggers_as_they_were()
    {
        var (host, _, maintenance) = await TableAsync("m_trg");
        using var _ = host;
        await database.DataSource.ExecAsync(
            "CREATE TABLE m_trg_log (id bigint, what text);"
            + "CREATE FUNCTION m_trg_log() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
            + "INSERT INTO m_trg_log VALUES (CASE WHEN TG_OP = 'DELETE' THEN OLD.id ELSE NEW.id END, TG_NAME || ' ' || TG_OP); "
            + "RETURN CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END; END $$;"
            + "CREATE TABLE m_trg_default PARTITION OF m_trg DEFAULT;"
            + "INSERT INTO m_trg SELECT g, timestamptz '2026-09-01' + g * interval '6 hours', 'row ' || g FROM generate_series(1, 100) g;"
            + "CREATE TRIGGER on_delete AFTER DELETE ON m_trg FOR EACH ROW EXECUTE FUNCTION m_trg_log();"
            + "CREATE TRIGGER on_insert BEFORE INSERT ON m_trg FOR EACH ROW EXECUTE FUNCTION m_trg_log();"
            + "CREATE TRIGGER own_delete BEFORE DELETE ON m_trg_default FOR EACH ROW EXECUTE FUNCTION m_trg_log();"
            + "CREATE TRIGGER switched_off BEFORE DELETE ON m_trg_default FOR EACH ROW EXECUTE FUNCTION m_trg_log();"
            + "ALTER TABLE m_trg_default DISABLE TRIGGER switched_off;"
            + "CREATE TRIGGER always_on AFTER DELETE ON m_trg_default FOR EACH ROW EXECUTE FUNCTION m_trg_log();"
            + "ALTER TABLE m_trg_default ENABLE ALWAYS TRIGGER always_on;");

        var result = await maintenance.RunMaintenanceAsync();
        Assert.Empty(result.Failures);
        Assert.Equal(100, result.Actions.Where(a => a.Kind == PartitionActionKind.MoveFromDefault).Sum(a => a.Rows));
        Assert.Equal(0L, await database.DataSource.ScalarAsync<long>("SELECT count(*) FROM m_trg_default"));
        Assert.Equal(100L, await database.DataSource.ScalarAsync<long>("SELECT count(*) FROM m_trg"));
        Assert.Equal(0L, await database.DataSource.ScalarAsync<long>("SELECT count(*) FROM m_trg_log"));
        Assert.Equal(["always_on A", "on_delete O", "on_insert O", "own_delete O", "switched_off D"], await database.DataSource.ColumnAsync(
            "SELECT tgname || ' ' || tgenabled::text FROM pg_trigger WHERE tgrelid = 'm_trg_default'::regclass AND NOT tgisinternal ORDER BY 1"));

        // Still the user's triggers: a real DELETE of a row in the default is seen.
        await database.DataSource.ExecAsync("INSERT INTO m_trg VALUES (500, '2020-01-01 00:00+00', 'no partition: in the default'); DELETE FROM m_trg WHERE id = 500");
        Assert.Equal(["500 always_on DELETE", "500 on_delete DELETE", "500 on_insert INSERT", "500 own_delete DELETE"],
            await database.DataSource.ColumnAsync("SELECT id || ' ' || what FROM m_trg_log ORDER BY what"));
    }
}
