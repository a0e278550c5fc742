using System;
using System.Threading.Tasks;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Time.Testing;
using ScaleOps.Data;
using ScaleOps.Partitioning.Lifecycle;
using ScaleOps.Partitioning.Migration;
using ScaleOps.TestInfrastructure;
using Xunit;

namespace ScaleOps.Partitioning.Tests.Migration;

public partial class TableMigratorTests
{
    /// <summary>A table named <paramref name="name"/> (quoted as is: quotes, spaces, capitals) and its twin <c>{name}_new</c>.</summary>
    private async Task<(IHost Host, FakeTimeProvider Time)> SetUpQuotedAsync(string name, string schema)
    {
        var table = SqlIdentifier.Quote(name);
        await database.DataSource.ExecAsync(
            $"CREATE TABLE {table} (id bigint PRIMARY KEY, created_at timestamptz NOT NULL, body text);"
            + $"INSERT INTO {table} SELECT g, timestamptz '2026-05-01' + g * interval '150 minutes', 'row ' || g FROM generate_series(1, 200) g;"
            + $"CREATE TABLE {SqlIdentifier.Quote(name + "_new")} (id bigint NOT NULL, created_at timestamptz NOT NULL, body text, "
            + "PRIMARY KEY (id, created_at)) PARTITION BY RANGE (created_at)");
        var time = new FakeTimeProvider(TestHost.Monday);
        var host = TestHost.Build(database.ConnectionString, o =>
        {
            o.Audit.Enabled = false;
            o.RunMaintenanceOnStart = false;
            o.DdlRetryDelay = TimeSpan.Zero;
            o.Tables.Add(new PartitionedTableOptions { Name = name, Column = "created_at", Premake = 2 });
        }, time, schema: schema);
        return (host, time);
    }

    /// <summary>
    /// The old table's triggers stayed on it (the default partition): a row going to a new partition fired none of them,
    /// an audit trigger went quiet. The partitioned table now gets them in the swap (row triggers are cloned to every
    /// partition), and the old table's own copies go, so a row of the default fires each once.
    /// </summary>
    [Fact]
    public async Task The_old_tables_triggers_are_carried_over_and_fire_once_per_row()
    {
        const string name = "Mig \"Trig\" T";
        var table = SqlIdentifier.Quote(name);
        var (host, time) = await SetUpQuotedAsync(name, "so_mig_trig");
        using var _ = host;
        await database.DataSource.ExecAsync(
            "CREATE TABLE mig_trig_log (seq bigserial, op text, id bigint, statement boolean);"
            + "CREATE FUNCTION mig_trig_audit() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
            + "IF TG_LEVEL = 'STATEMENT' THEN INSERT INTO mig_trig_log (op, id, statement) VALUES (TG_OP, NULL, true); RETURN NULL; END IF; "
            + "INSERT INTO mig_trig_log (op, id, statement) VALUES (TG_OP, CASE WHEN TG_OP = 'DELETE' THEN OLD.id ELSE NEW.id END, false); RETURN NULL; END $$;"
            + $"CREATE TRIGGER \"Audit \"\"it\"\" ON public.x\" AFTER INSERT OR UPDATE OR DELETE ON {table} FOR EACH ROW EXECUTE FUNCTION mig_trig_audit();"
            + $"CREATE TRIGGER \"Per Statement\" AFTER INSERT ON {table} FOR EACH STATEMENT EXECUTE FUNCTION mig_trig_audit();"
            + $"CREATE TRIGGER \"Switched off\" AFTER DELETE ON {table} FOR EACH ROW EXECUTE FUNCTION mig_trig_audit();"
            + $"ALTER TABLE {table} DISABLE TRIGGER \"Switched off\"");
        var migrator = host.Services.GetRequiredService<ITableMigrator>();

        Assert.True((await migrator.ConvertAsync("public", name, name + "_new")).Swapped);
        Assert.Equal(0L, await database.DataSource.ScalarAsync<long>("SELECT count(*) FROM mig_trig_log")); // the moves fire nothing
        await database.DataSource.ExecAsync(
            $"INSERT INTO {table} VALUES (5001, '2027-01-15', 'new partition'), (5002, '2026-11-25', 'default partition');"
            + $"UPDATE {table} SET body = 'changed' WHERE id = 5002; DELETE FROM {table} WHERE id = 5001");
        Assert.Equal(["INSERT 5001", "INSERT 5002", "UPDATE 5002", "DELETE 5001"], await database.DataSource.ColumnAsync(
            "SELECT op || ' ' || id FROM mig_trig_log WHERE NOT statement ORDER BY seq"));
        Assert.Equal(1L, await database.DataSource.ScalarAsync<long>("SELECT count(*) FROM mig_trig_log WHERE statement"));

        time.Advance(TimeSpan.FromDays(40)); // the rest moves out, the old table goes
        await migrator.ConvertAsync("public", name, name + "_new");
        Assert.DoesNotContain(await database.DataSource.PartitionsAsync("public." + table), p => p.Contains("DEFAULT", StringComparison.Ordinal));
        Assert.Equal(5L, await database.DataSource.ScalarAsync<long>("SELECT count(*) FROM mig_trig_log"));
        await database.DataSource.ExecAsync($"DELETE FROM {table} WHERE id = 5002");
        Assert.Equal(["INSERT 5001", "INSERT 5002", "UPDATE 5002", "DELETE 5001", "DELETE 5002"], await database.DataSource.ColumnAsync(
            "SELECT op || ' ' || id FROM mig_trig_log WHERE NOT statement ORDER BY seq"));
    }

    /// <summary>
    /// A constraint trigger, or a row trigger with transition tables (which PostgreSQL does not allow on a partitioned
    /// table), cannot be carried over: refused before anything changes, naming each.
    /// </summary>
    [Fact]
    public async Task A_trigger_that_cannot_be_carried_over_is_refused_up_front_naming_it()
    {
        var (host, _, _) = await SetUpAsync("mig_trig_refuse");
        using var _ = host;
        await database.DataSource.ExecAsync(
            "CREATE FUNCTION mig_trig_refuse_f() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NULL; END $$;"
            + "CREATE CONSTRAINT TRIGGER \"Deferred \"\"check\"\"\" AFTER INSERT ON mig_trig_refuse DEFERRABLE INITIALLY DEFERRED "
            + "FOR EACH ROW EXECUTE FUNCTION mig_trig_refuse_f();"
            + "CREATE TRIGGER \"With new rows\" AFTER INSERT ON mig_trig_refuse REFERENCING NEW TABLE AS added FOR EACH ROW EXECUTE FUNCTION mig_trig_refuse_f()");

        var error = await Assert.ThrowsAsync<InvalidOperationException>(
            () => host.Services.GetRequiredService<ITableMigrator>().ConvertAsync("public", "mig_trig_refuse", "mig_trig_refuse_new"));
        Assert.Contains("\"Deferred \"\"check\"\"\" (a constraint trigger)", error.Message, StringComparison.Ordinal);
        Assert.Contains("\"With new rows\" (a row trigger with transition tables)", error.Message, StringComparison.Ordinal);
        Assert.Equal("r", await database.DataSource.ScalarAsync<string>("SELECT relkind::text FROM pg_class WHERE oid = 'mig_trig_refuse'::regclass"));
        Assert.Equal(0L, await database.DataSource.ScalarAsync<long>(
            "SELECT count(*) FROM pg_constraint WHERE conrelid = 'mig_trig_refuse'::regclass AND contype = 'c'"));
    }
}
