using System;
using System.Linq;
using System.Threading.Tasks;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Time.Testing;
using ScaleOps.Partitioning.Archive;
using ScaleOps.Partitioning.Lifecycle;
using ScaleOps.TestInfrastructure;
using Xunit;

namespace ScaleOps.Partitioning.Tests.Archive;

/// <summary>Archive and restore of tables whose columns need care: generated columns, scaled decimals, awkward names.</summary>
public class ArchiveColumnTests(PostgresDatabase database) : IClassFixture<PostgresDatabase>
{
    /// <summary>
    /// Creates <paramref name="name"/> with <paramref name="columns"/> (after id and created_at), runs maintenance, fills
    /// 2026_09 with <paramref name="insert"/> (a query for the whole row), archives and drops it (time moved 40 days),
    /// restores it, and returns each row's text before and after.
    /// </summary>
    private async Task<(string[] Before, string[] After, ArchiveManifest Manifest)> RoundTripAsync(string name, string columns, string insert)
    {
        await database.DataSource.ExecAsync(
            $"CREATE TABLE {name} (id bigint NOT NULL, created_at timestamptz NOT NULL, {columns}) PARTITION BY RANGE (created_at)");
        var blob = await TcpServer.BlobAsync();
        var time = new FakeTimeProvider(TestHost.Monday);
        using var host = TestHost.Build(database.ConnectionString, o =>
        {
            o.Audit.Enabled = false;
            o.RunMaintenanceOnStart = false;
            o.DdlRetryDelay = TimeSpan.Zero;
            o.BlobConnectionString = blob;
            o.ArchiveContainer = "arcol-" + Guid.NewGuid().ToString("N");
            o.Tables.Add(new PartitionedTableOptions { Name = name, Column = "created_at", Premake = 2, Retention = 2, Archive = true });
        }, time, schema: "so_" + name);
        await host.MigratedAsync();
        var maintenance = host.Services.GetRequiredService<IPartitionMaintenance>();
        Assert.Empty((await maintenance.RunMaintenanceAsync()).Failures);
        await database.DataSource.ExecAsync($"INSERT INTO {name} {insert}");
        var before = await RowsAsync(name);

        time.Advance(TimeSpan.FromDays(40)); // 2027-01-02: 2026_09 and 2026_10 are archived and dropped
        var result = await maintenance.RunMaintenanceAsync();
        Assert.Empty(result.Failures);
        Assert.Empty(await RowsAsync(name));
        var archiver = host.Services.GetRequiredService<IPartitionArchiver>();
        var manifest = await archiver.GetManifestAsync("public", name, name + "_p2026_09");
        Assert.NotNull(manifest);
        Assert.Equal(before.Length, await archiver.RestoreAsync("public", name, name + "_p2026_09"));
        return (before, await RowsAsync(name), manifest);
    }

    private async Task<string[]> RowsAsync(string table) =>
        [.. await database.DataSource.ColumnAsync($"SELECT {table}::text FROM {table} ORDER BY id")];

    /// <summary>
    /// A GENERATED ... STORED column is archived with the rest, and restored by recomputing it: the restore created its
    /// table without the generation expression and COPYed a value into the column.
    /// </summary>
    [Fact]
    public async Task A_table_with_a_generated_column_archives_and_restores()
    {
        var (before, after, manifest) = await RoundTripAsync("arc_gen", "x int, doubled int GENERATED ALWAYS AS (x * 2) STORED, body text",
            "(id, created_at, x, body) SELECT g, timestamptz '2026-09-01' + g * interval '1 hour', CASE WHEN g % 4 = 0 THEN NULL ELSE g END, "
            + "CASE WHEN g % 3 = 0 THEN '' ELSE 'b' || g END FROM generate_series(1, 60) g");
        Assert.Contains(manifest.Columns, c => c.Name == "doubled");
        Assert.Equal(60, before.Length);
        Assert.Equal(before, after);
        Assert.Equal(2 * 59, await database.DataSource.ScalarAsync<int>("SELECT doubled FROM arc_gen_p2026_09 WHERE id = 59"));
    }

    /// <summary>
    /// numeric(p,s) with 19 &lt;= p &lt;= 28 and s &gt; 0 is a byte-array Parquet decimal, which Parquet.Net reads back
    /// without its trailing zeros: a value like 12.5000 or 0.00 hashed differently on read-back, the archive never
    /// verified and the partition was never archived (nor dropped). Zero, trailing zeros and mixed values round-trip and
    /// restore with the column's scale.
    /// </summary>
    [Theory]
    [InlineData("arc_n204", "numeric(20,4)", "12.5;0;-3.0001;12.5000;100;-0.1")]
    [InlineData("arc_n192", "numeric(19,2)", "0;1.10;-7")]
    [InlineData("arc_n2810", "numeric(28,10)", "999999999999999999.9999999999;-0.0000000001;0;1.5")]
    [InlineData("arc_n2828", "numeric(28,28)", "0;0.5;-0.0000000000000000000000000001")]
    [InlineData("arc_n182", "numeric(18,2)", "0;12.50")]
    public async Task Scaled_decimals_with_trailing_zeros_archive_verify_and_restore_exactly(string name, string type, string values)
    {
        var rows = values.Split(';');
        var (before, after, manifest) = await RoundTripAsync(name, $"v {type}",
            "VALUES " + string.Join(", ", rows.Select((v, i) => $"({i + 1}, timestamptz '2026-09-02' + {i} * interval '1 hour', {v}::{type})"))
            + $", ({rows.Length + 1}, timestamptz '2026-09-03', NULL)");
        Assert.StartsWith("decimal(", Assert.Single(manifest.Columns, c => c.Name == "v").Parquet, StringComparison.Ordinal);
        Assert.Equal(rows.Length + 1, before.Length);
        Assert.Equal(before, after);
    }

    /// <summary>
    /// A non-plain column name ("Body", at position 2) is stored under a positional field name; a plain column literally
    /// named c2 used to get the same field name, and every archive of the table failed.
    /// </summary>
    [Fact]
    public async Task A_column_named_like_a_positional_field_does_not_collide_with_it()
    {
        var (before, after, manifest) = await RoundTripAsync("arc_pos", "\"Body\" text, c2 text, \"C3\" int, c3 int, c2_ text",
            "SELECT g, timestamptz '2026-09-01' + g * interval '6 hours', 'B' || g, 'c' || g, g, -g, 'u' || g FROM generate_series(1, 40) g");
        Assert.Equal(["id", "created_at", "Body", "c2", "C3", "c3", "c2_"], manifest.Columns.Select(c => c.Name));
        Assert.Equal(40, before.Length);
        Assert.Equal(before, after);
    }
}
