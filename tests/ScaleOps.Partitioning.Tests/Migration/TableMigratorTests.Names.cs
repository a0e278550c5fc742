using System;
using System.Linq;
using System.Threading.Tasks;
using Microsoft.Extensions.DependencyInjection;
using ScaleOps.Partitioning.Migration;
using ScaleOps.TestInfrastructure;
using Xunit;

namespace ScaleOps.Partitioning.Tests.Migration;

public partial class TableMigratorTests
{
    /// <summary>
    /// Names the conversion gives to what it creates may already be taken in the schema by objects that are not its own:
    /// a user's table under a partition's name (the period made ahead, 2027_01; an empty closed period filled after the
    /// swap, 2026_12), the partition
    /// a closed period's rows move into (2026_06, already right). Each takes a free name instead, and the user's objects are left as they were (not attached, not dropped).
    /// </summary>
    [Fact]
    public async Task Names_taken_by_foreign_objects_are_skipped_and_the_foreign_objects_left_alone()
    {
        var (host, checksum, time) = await SetUpAsync("mig_clash");
        using var _ = host;
        await database.DataSource.ExecAsync(
            "CREATE TABLE mig_clash_p2027_01 (note text); INSERT INTO mig_clash_p2027_01 VALUES ('mine, ahead');"
            + "CREATE TABLE mig_clash_p2026_12 (note text); INSERT INTO mig_clash_p2026_12 VALUES ('mine, empty period');"
            + "CREATE TABLE mig_clash_p2026_06 (note text); INSERT INTO mig_clash_p2026_06 VALUES ('mine, moved period');");
        var migrator = host.Services.GetRequiredService<ITableMigrator>();

        var first = await migrator.ConvertAsync("public", "mig_clash", "mig_clash_new");
        Assert.True(first.Swapped);
        time.Advance(TimeSpan.FromDays(40)); // January: November and December have closed
        await migrator.ConvertAsync("public", "mig_clash", "mig_clash_new");

        var partitions = await database.DataSource.PartitionsAsync("public.mig_clash");
        Assert.DoesNotContain(partitions, p => p.Contains("DEFAULT", StringComparison.Ordinal));
        Assert.Contains("mig_clash_p2027_01_2 FOR VALUES FROM ('2027-01-01 00:00:00+00') TO ('2027-02-01 00:00:00+00')", partitions);
        Assert.Contains("mig_clash_p2026_12_2 FOR VALUES FROM ('2026-12-01 00:00:00+00') TO ('2027-01-01 00:00:00+00')", partitions);
        Assert.Contains("mig_clash_p2026_06_2 FOR VALUES FROM ('2026-06-01 00:00:00+00') TO ('2026-07-01 00:00:00+00')", partitions);
        Assert.Equal(checksum, await database.DataSource.ScalarAsync<string>("SELECT md5(string_agg(mig_clash::text, '|' ORDER BY id)) FROM mig_clash"));

        foreach (var (table, note) in new[] { ("mig_clash_p2027_01", "mine, ahead"), ("mig_clash_p2026_12", "mine, empty period"), ("mig_clash_p2026_06", "mine, moved period") })
        {
            Assert.Equal(note, await database.DataSource.ScalarAsync<string>($"SELECT string_agg(note, ',') FROM {table}"));
            Assert.False(await database.DataSource.ScalarAsync<bool>($"SELECT relispartition FROM pg_class WHERE oid = '{table}'::regclass"));
        }
    }

    /// <summary>
    /// The conversion builds the partitioned table's indexes on the live table first, as <c>{name}_sx1</c>, <c>_sx2</c>...
    /// with IF NOT EXISTS: a user's index of that name on another table was taken for the one built.
    /// </summary>
    [Fact]
    public async Task A_foreign_index_under_the_name_of_an_index_the_conversion_builds_is_left_alone()
    {
        var (host, checksum, _) = await SetUpAsync("mig_clashx");
        using var _ = host;
        await database.DataSource.ExecAsync("CREATE TABLE mig_clashx_other (a int, b int); CREATE INDEX mig_clashx_sx1 ON mig_clashx_other (a, b);");

        var result = await host.Services.GetRequiredService<ITableMigrator>().ConvertAsync("public", "mig_clashx", "mig_clashx_new");
        Assert.True(result.Swapped);
        Assert.Equal(checksum, await database.DataSource.ScalarAsync<string>("SELECT md5(string_agg(mig_clashx::text, '|' ORDER BY id)) FROM mig_clashx"));
        Assert.Equal("CREATE INDEX mig_clashx_sx1 ON public.mig_clashx_other USING btree (a, b)",
            await database.DataSource.ScalarAsync<string>("SELECT pg_get_indexdef('mig_clashx_sx1'::regclass)"));
    }

    /// <summary>
    /// The swap renames the live table to <c>{name}_default</c>: a table of that name (a user's, not a partition of the
    /// conversion's) made the swap fail with PostgreSQL's bare 42P07 after the indexes and the range CHECK were built and
    /// validated. It is refused before anything changes, naming the object.
    /// </summary>
    [Fact]
    public async Task A_foreign_object_under_the_default_partitions_name_is_refused_up_front_naming_it()
    {
        var (host, checksum, _) = await SetUpAsync("mig_clashd");
        using var _ = host;
        await database.DataSource.ExecAsync("CREATE TABLE mig_clashd_default (note text); INSERT INTO mig_clashd_default VALUES ('mine')");

        var error = await Assert.ThrowsAsync<InvalidOperationException>(
            () => host.Services.GetRequiredService<ITableMigrator>().ConvertAsync("public", "mig_clashd", "mig_clashd_new"));
        Assert.Contains("\"public\".\"mig_clashd_default\"", error.Message, StringComparison.Ordinal);
        Assert.Contains("nothing was changed", error.Message, StringComparison.Ordinal);

        Assert.Equal("r", await database.DataSource.ScalarAsync<string>("SELECT relkind::text FROM pg_class WHERE oid = 'mig_clashd'::regclass"));
        Assert.Equal(0L, await database.DataSource.ScalarAsync<long>("SELECT count(*) FROM pg_constraint WHERE conrelid = 'mig_clashd'::regclass AND contype = 'c'"));
        Assert.Equal(1L, await database.DataSource.ScalarAsync<long>("SELECT count(*) FROM pg_index WHERE indrelid = 'mig_clashd'::regclass AND NOT indisprimary"));
        Assert.Equal(0L, await database.DataSource.ScalarAsync<long>("SELECT count(*) FROM pg_inherits WHERE inhparent = 'mig_clashd_new'::regclass"));
        Assert.Equal(checksum, await database.DataSource.ScalarAsync<string>("SELECT md5(string_agg(mig_clashd::text, '|' ORDER BY id)) FROM mig_clashd"));
        Assert.Equal("mine", await database.DataSource.ScalarAsync<string>("SELECT note FROM mig_clashd_default"));
    }
}
