using System;
using System.Linq;
using System.Threading.Tasks;
using ScaleOps.Partitioning.Lifecycle;
using Xunit;

namespace ScaleOps.Partitioning.Tests.Lifecycle;

public partial class MaintenanceTests
{
    /// <summary>
    /// A table with a GENERATED ... STORED column: partitions were created LIKE the parent without INCLUDING GENERATED,
    /// so every ATTACH failed (42804) and the table got no partition at all.
    /// </summary>
    [Fact]
    public async Task A_table_with_a_generated_column_gets_its_partitions()
    {
        var (host, _, maintenance) = await TableAsync("m_gen");
        using var _ = host;
        await database.DataSource.ExecAsync("ALTER TABLE m_gen ADD COLUMN x int, ADD COLUMN doubled int GENERATED ALWAYS AS (x * 2) STORED");

        var result = await maintenance.RunMaintenanceAsync();
        Assert.Empty(result.Failures);
        Assert.Equal(5, (await database.DataSource.PartitionsAsync("public.m_gen")).Count);
        await database.DataSource.ExecAsync("INSERT INTO m_gen (id, created_at, x) VALUES (1, '2026-11-15', 21)");
        Assert.Equal(42, await database.DataSource.ScalarAsync<int>("SELECT doubled FROM m_gen_p2026_11"));
    }

    /// <summary>
    /// Rows of a table with a generated column move out of the default partition: the move's INSERT listed the
    /// generated column (refused: 428C9) and its new partition lacked the generation expression.
    /// </summary>
    [Fact]
    public async Task Rows_with_a_generated_column_move_out_of_the_default_partition()
    {
        var (host, _, maintenance) = await TableAsync("m_genmv");
        using var _ = host;
        await database.DataSource.ExecAsync(
            "ALTER TABLE m_genmv ADD COLUMN x int, ADD COLUMN doubled int GENERATED ALWAYS AS (x * 2) STORED;"
            + "CREATE TABLE m_genmv_default PARTITION OF m_genmv DEFAULT;"
            + "INSERT INTO m_genmv (id, created_at, x) SELECT g, timestamptz '2026-09-01' + g * interval '1 hour', g FROM generate_series(1, 50) g");
        var before = await database.DataSource.ScalarAsync<string>("SELECT md5(string_agg(m_genmv::text, '|' ORDER BY id)) FROM m_genmv");

        var result = await maintenance.RunMaintenanceAsync();
        Assert.Empty(result.Failures);
        Assert.Equal(50, result.Actions.Where(a => a.Kind == PartitionActionKind.MoveFromDefault).Sum(a => a.Rows));
        Assert.Equal(0L, await database.DataSource.ScalarAsync<long>("SELECT count(*) FROM m_genmv_default"));
        Assert.Equal(before, await database.DataSource.ScalarAsync<string>("SELECT md5(string_agg(m_genmv::text, '|' ORDER BY id)) FROM m_genmv"));
        Assert.Equal(100, await database.DataSource.ScalarAsync<int>("SELECT doubled FROM m_genmv_p2026_09 WHERE id = 50"));
    }
}
