using System;
using System.IO;
using System.Linq;
using System.Threading.Tasks;
using Azure.Storage.Blobs;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;
using Npgsql;
using Parquet;
using ScaleOps.Partitioning.Archive;
using ScaleOps.Partitioning.Lifecycle;
using ScaleOps.TestInfrastructure;
using Xunit;

namespace ScaleOps.Partitioning.Tests.Archive;

/// <summary>Archives whose text columns must not depend on the session settings of the export or of the restore.</summary>
public class ArchiveSettingsTests(PostgresDatabase database) : IClassFixture<PostgresDatabase>
{
    /// <summary>
    /// An interval is archived as PostgreSQL text, whose form depends on the session's IntervalStyle. Exported under
    /// <c>sql_standard</c> (a database or role setting), <c>-1 days -02:00:00</c> was written as <c>-1 2:00:00</c>, which a
    /// restore under the default style reads as <c>-1 days +02:00:00</c>: the archive verified (its text hashed the same)
    /// and the restore changed the value. The text is now always the default (<c>postgres</c>) style, and a restore reads
    /// it under that style, whatever the sessions' own.
    /// </summary>
    [Fact]
    public async Task Intervals_round_trip_exactly_when_the_export_and_restore_sessions_have_other_IntervalStyles()
    {
        const string name = "arc_ivstyle";
        await database.DataSource.ExecAsync(
            $"CREATE TABLE {name} (id bigint NOT NULL, created_at timestamptz NOT NULL, iv interval, ivs interval[]) PARTITION BY RANGE (created_at)");
        var blob = await TcpServer.BlobAsync();
        var container = "arcivs-" + Guid.NewGuid().ToString("N");
        var time = new FakeTimeProvider(TestHost.Monday);
        var sqlStandard = new NpgsqlConnectionStringBuilder(database.ConnectionString) { Options = "-c IntervalStyle=sql_standard" }.ConnectionString;
        void Configure(PartitioningOptions o)
        {
            o.Audit.Enabled = false;
            o.RunMaintenanceOnStart = false;
            o.DdlRetryDelay = TimeSpan.Zero;
            o.BlobConnectionString = blob;
            o.ArchiveContainer = container;
            o.Tables.Add(new PartitionedTableOptions { Name = name, Column = "created_at", Premake = 2, Retention = 2, Archive = true });
        }

        ArchiveManifest manifest;
        string[] before;
        using (var exporter = TestHost.Build(sqlStandard, Configure, time, schema: "so_" + name))
        {
            await exporter.MigratedAsync();
            var maintenance = exporter.Services.GetRequiredService<IPartitionMaintenance>();
            Assert.Empty((await maintenance.RunMaintenanceAsync()).Failures);
            await database.DataSource.ExecAsync(
                $"INSERT INTO {name} VALUES (1, '2026-09-01', '-1 days -2 hours', ARRAY['-1 days -2 hours'::interval, '1 year -1 month']), "
                + "(2, '2026-09-02', '-3 days +4 hours 5 microseconds', NULL), (3, '2026-09-03', '1 year -1 month -1 day', '{}'), (4, '2026-09-04', NULL, NULL)");
            before = [.. await database.DataSource.ColumnAsync($"SELECT {name}::text FROM {name} ORDER BY id")];
            time.Advance(TimeSpan.FromDays(40)); // 2027-01-02: 2026_09 is archived and dropped
            Assert.Empty((await maintenance.RunMaintenanceAsync()).Failures);
            manifest = (await exporter.Services.GetRequiredService<IPartitionArchiver>().GetManifestAsync("public", name, name + "_p2026_09"))!;
            Assert.NotNull(manifest);
            Assert.Equal(0L, await database.DataSource.ScalarAsync<long>($"SELECT count(*) FROM {name}"));
        }

        using (var restorer = TestHost.Build(database.ConnectionString, Configure, time, schema: "so_" + name))
        {
            Assert.Equal(4, await restorer.Services.GetRequiredService<IPartitionArchiver>().RestoreAsync("public", name, name + "_p2026_09"));
        }

        Assert.Equal(before, await database.DataSource.ColumnAsync($"SELECT {name}::text FROM {name} ORDER BY id"));

        // The file holds the default style's text, readable without knowing the exporting session's settings.
        var content = (await new BlobContainerClient(blob, container).GetBlobClient(manifest.Blob).DownloadContentAsync()).Value.Content.ToArray();
        await using var stream = new MemoryStream(content);
        await using var reader = await ParquetReader.CreateAsync(stream);
        using var group = reader.OpenRowGroupReader(0);
        var values = new string?[group.RowCount];
        await group.ReadAsync(reader.Schema.GetDataFields().Single(f => f.Name == "iv"), values.AsMemory(), null);
        Assert.Equal(["-1 days -02:00:00", "-3 days +04:00:00.000005", "11 mons -1 days", "<null>"], values.Select(v => v ?? "<null>"));
    }

    /// <summary>
    /// The ends of every typed column's range, timestamps and dates a .NET DateTime cannot hold (BC, past 9999: the
    /// column becomes its exact text, as for an infinity), a column that is NULL in every row, empty and non-ASCII text
    /// (combining marks, right-to-left, a supplementary-plane emoji, U+FFFF): the file holds the typed values exactly and
    /// the restore brings every value back. A date BC or past 9999 failed the archive of its partition at every run
    /// (Npgsql's date converter throws ArgumentOutOfRangeException, where the timestamp one throws the
    /// InvalidCastException that sent the column to text).
    /// </summary>
    [Fact]
    public async Task Extreme_values_are_archived_exactly_and_restored()
    {
        const string name = "arc_extreme";
        await database.DataSource.ExecAsync(
            $"CREATE TABLE {name} (id bigint NOT NULL, created_at timestamptz NOT NULL, i2 smallint, i4 integer, i8 bigint, f4 real, f8 double precision, "
            + "n numeric(28,0), far_tz timestamptz, far_d date, nothing integer, body text) PARTITION BY RANGE (created_at)");
        var blob = await TcpServer.BlobAsync();
        var container = "arcext-" + Guid.NewGuid().ToString("N");
        var time = new FakeTimeProvider(TestHost.Monday);
        using var host = TestHost.Build(database.ConnectionString, o =>
        {
            o.Audit.Enabled = false;
            o.RunMaintenanceOnStart = false;
            o.DdlRetryDelay = TimeSpan.Zero;
            o.BlobConnectionString = blob;
            o.ArchiveContainer = container;
            o.Tables.Add(new PartitionedTableOptions { Name = name, Column = "created_at", Premake = 2, Retention = 2, Archive = true });
        }, time, schema: "so_" + name);
        await host.MigratedAsync();
        var maintenance = host.Services.GetRequiredService<IPartitionMaintenance>();
        Assert.Empty((await maintenance.RunMaintenanceAsync()).Failures);
        await database.DataSource.ExecAsync(
            $"INSERT INTO {name} VALUES "
            + "(1, '2026-09-01 00:00:00+00', -32768, -2147483648, -9223372036854775808, '-3.4028235e38', '-1.7976931348623157e308', "
            + "-9999999999999999999999999999, '4713-01-01 00:00:00+00 BC', '4713-01-01 BC', NULL, ''), "
            + "(2, '2026-09-30 23:59:59.999999+00', 32767, 2147483647, 9223372036854775807, '1e-45', '4.9e-324', "
            + "9999999999999999999999999999, '294276-12-31 23:59:59.999999+00', '5874897-12-31', NULL, E'e\u0301 \u05e9\u05dc\u05d5\u05dd 😀 \uffff'), "
            + "(3, '2026-09-15 12:00:00+00', 0, 0, 0, '-0', '-0', 0, '1969-12-31 23:59:59.999999+00', '1970-01-01', NULL, NULL)");
        var before = await database.DataSource.ColumnAsync($"SELECT {name}::text FROM {name} ORDER BY id");

        time.Advance(TimeSpan.FromDays(40)); // 2027-01-02: 2026_09 is archived and dropped
        Assert.Empty((await maintenance.RunMaintenanceAsync()).Failures);
        var archiver = host.Services.GetRequiredService<IPartitionArchiver>();
        var manifest = (await archiver.GetManifestAsync("public", name, name + "_p2026_09"))!;
        Assert.NotNull(manifest);
        Assert.Equal(
            ["int64", "timestamp(us,utc)", "int16", "int32", "int64", "float", "double", "decimal(28,0)", "string", "string", "int32", "string"],
            manifest.Columns.Select(c => c.Parquet));

        var content = (await new BlobContainerClient(blob, container).GetBlobClient(manifest.Blob).DownloadContentAsync()).Value.Content.ToArray();
        await using (var stream = new MemoryStream(content))
        await using (var reader = await ParquetReader.CreateAsync(stream))
        {
            using var group = reader.OpenRowGroupReader(0);
            var fields = reader.Schema.GetDataFields().ToDictionary(f => f.Name);
            var ids = new long?[3];
            await group.ReadAsync(fields["id"], ids.AsMemory(), null);
            var order = ids.Select(i => (int)i!.Value).ToArray();
            var i8 = new long?[3];
            await group.ReadAsync(fields["i8"], i8.AsMemory(), null);
            var n = new decimal?[3];
            await group.ReadAsync(fields["n"], n.AsMemory(), null);
            var nothing = new int?[3];
            await group.ReadAsync(fields["nothing"], nothing.AsMemory(), null);
            var farTz = new string?[3];
            await group.ReadAsync(fields["far_tz"], farTz.AsMemory(), null);
            var byId = order.Select((id, row) => (id, row)).ToDictionary(x => x.id, x => x.row);
            Assert.Equal((long.MinValue, long.MaxValue), (i8[byId[1]], i8[byId[2]]));
            Assert.Equal((-9999999999999999999999999999m, 9999999999999999999999999999m), (n[byId[1]], n[byId[2]]));
            Assert.All(nothing, v => Assert.Null(v));
            Assert.Equal(("4713-01-01 00:00:00+00 BC", "294276-12-31 23:59:59.999999+00"), (farTz[byId[1]], farTz[byId[2]]));
        }

        Assert.Equal(3, await archiver.RestoreAsync("public", name, name + "_p2026_09"));
        Assert.Equal(before, await database.DataSource.ColumnAsync($"SELECT {name}::text FROM {name} ORDER BY id"));
    }
}
