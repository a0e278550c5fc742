using System;
using System.Threading.Tasks;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using ScaleOps.Partitioning.Lifecycle;
using ScaleOps.Partitioning.Migration;
using Xunit;

namespace ScaleOps.Partitioning.Tests.Migration;

public partial class TableMigratorTests
{
    /// <summary>
    /// A table another table's FOREIGN KEY references is refused before anything changes: the conversion moves rows
    /// with DELETE and INSERT, and with ON DELETE CASCADE that deleted every referencing row; with NO ACTION the
    /// conversion failed halfway, its rows stuck in the default partition.
    /// </summary>
    [Theory]
    [InlineData("mig_fk_cascade", "ON DELETE CASCADE", "CASCADE")]
    [InlineData("mig_fk_plain", "", "NO ACTION")]
    public async Task A_table_referenced_by_a_foreign_key_is_refused_up_front_and_every_row_stays(string name, string onDelete, string shown)
    {
        await database.DataSource.ExecAsync(
            $"CREATE TABLE {name} (id bigint NOT NULL, created_at timestamptz NOT NULL, body text, PRIMARY KEY (id, created_at));"
            + $"CREATE TABLE {name}_line (order_id bigint NOT NULL, order_at timestamptz NOT NULL, qty int, "
            + $"  CONSTRAINT {name}_line_order FOREIGN KEY (order_id, order_at) REFERENCES {name} (id, created_at) {onDelete});"
            + $"INSERT INTO {name} SELECT g, '2026-09-01 00:00+00'::timestamptz + g * interval '6 hours', 'o' || g FROM generate_series(1, 100) g;"
            + $"INSERT INTO {name}_line SELECT id, created_at, 1 FROM {name};"
            + $"CREATE TABLE {name}_new (id bigint NOT NULL, created_at timestamptz NOT NULL, body text, PRIMARY KEY (id, created_at)) PARTITION BY RANGE (created_at);");
        using var host = BareHost(name, new Microsoft.Extensions.Time.Testing.FakeTimeProvider(TestHost.Monday));

        var error = await Assert.ThrowsAsync<InvalidOperationException>(
            () => host.Services.GetRequiredService<ITableMigrator>().ConvertAsync("public", name, name + "_new"));
        Assert.Contains($"\"{name}_line_order\" on {name}_line (ON DELETE {shown})", error.Message, StringComparison.Ordinal);
        Assert.Contains("Drop these constraints first", error.Message, StringComparison.Ordinal);
        Assert.Equal(100L, await database.DataSource.ScalarAsync<long>($"SELECT count(*) FROM {name}"));
        Assert.Equal(100L, await database.DataSource.ScalarAsync<long>($"SELECT count(*) FROM {name}_line"));
        Assert.Equal("r", await database.DataSource.ScalarAsync<string>($"SELECT relkind::text FROM pg_class WHERE oid = '{name}'::regclass"));
        Assert.Equal(0L, await database.DataSource.ScalarAsync<long>(
            $"SELECT count(*) FROM pg_constraint WHERE conrelid = '{name}'::regclass AND contype = 'c'")); // no range CHECK added
    }

    /// <summary>A host with <paramref name="name"/> declared (monthly, premake 2) and nothing set up in the database.</summary>
    private IHost BareHost(string name, TimeProvider time) => TestHost.Build(database.ConnectionString, o =>
    {
        o.Audit.Enabled = false;
        o.RunMaintenanceOnStart = false;
        o.DdlRetryDelay = TimeSpan.Zero;
        o.Tables.Add(new PartitionedTableOptions { Name = name, Column = "created_at", Premake = 2 });
    }, time, schema: "so_" + name);
}
