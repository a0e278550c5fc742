using System;
using System.Linq;
using System.Threading.Tasks;
using ScaleOps.Partitioning.Lifecycle;
using Xunit;

namespace ScaleOps.Partitioning.Tests.Lifecycle;

public partial class MaintenanceTests
{
    /// <summary>
    /// A partition attached from another schema, whose name is also the name of a partition in the table's own schema:
    /// retention named partitions by the table's schema, so the expired "elsewhere"."m_sch_p2026_11" (2020) made it
    /// detach and drop "public"."m_sch_p2026_11", the current month, with its rows. A partition outside the table's
    /// schema is left to its owner (like one bounded by MINVALUE); the health report keeps counting it.
    /// </summary>
    [Fact]
    public async Task Retention_never_takes_a_partition_in_the_tables_schema_for_a_same_named_one_elsewhere()
    {
        var (host, _, maintenance) = await TableAsync("m_sch", t => t.Retention = 2);
        using var _ = host;
        Assert.Empty((await maintenance.RunMaintenanceAsync()).Failures);
        await database.DataSource.ExecAsync(
            "INSERT INTO m_sch SELECT g, timestamptz '2026-11-02' + g * interval '1 hour', 'current ' || g FROM generate_series(1, 20) g;"
            + "CREATE SCHEMA elsewhere;"
            + "CREATE TABLE elsewhere.m_sch_p2026_11 PARTITION OF m_sch FOR VALUES FROM ('2020-01-01') TO ('2020-02-01');"
            + "INSERT INTO m_sch VALUES (999, '2020-01-15', 'old')");

        var result = await maintenance.RunMaintenanceAsync();

        Assert.Equal(20L, await database.DataSource.ScalarAsync<long>("SELECT count(*) FROM m_sch WHERE created_at >= '2026-11-01'"));
        Assert.Equal(20L, await database.DataSource.ScalarAsync<long>("SELECT count(*) FROM public.m_sch_p2026_11"));
        Assert.Equal(1L, await database.DataSource.ScalarAsync<long>("SELECT count(*) FROM elsewhere.m_sch_p2026_11"));
        Assert.Equal(21L, await database.DataSource.ScalarAsync<long>("SELECT count(*) FROM m_sch"));
        Assert.Empty(result.Failures);
        Assert.DoesNotContain(result.Actions, a => a.Partition == "m_sch_p2026_11");
        Assert.Equal(1, (await maintenance.GetHealthAsync()).Single(h => h.Table == "\"public\".\"m_sch\"").PartitionsPastRetention);
    }

    /// <summary>
    /// A default partition in another schema, and an unrelated plain table of the same name in the table's schema: rows
    /// were counted in, and moved out of, that unrelated table (deleted from it, inserted into the partitioned table)
    /// while the real default's rows stayed. The default is named by its own schema now.
    /// </summary>
    [Fact]
    public async Task Rows_move_out_of_the_default_partition_in_its_own_schema_not_out_of_a_same_named_table()
    {
        var (host, _, maintenance) = await TableAsync("m_sdef");
        using var _ = host;
        await database.DataSource.ExecAsync(
            "CREATE SCHEMA elsewhere_def;"
            + "CREATE TABLE elsewhere_def.m_sdef_default PARTITION OF m_sdef DEFAULT;"
            + "INSERT INTO m_sdef SELECT g, timestamptz '2026-09-01' + g * interval '1 day', 'stray ' || g FROM generate_series(1, 10) g;"
            + "CREATE TABLE public.m_sdef_default (id bigint NOT NULL, created_at timestamptz NOT NULL, body text);"
            + "INSERT INTO public.m_sdef_default SELECT g, timestamptz '2026-08-01' + g * interval '1 day', 'unrelated ' || g FROM generate_series(101, 105) g");

        var result = await maintenance.RunMaintenanceAsync();

        Assert.Equal(5L, await database.DataSource.ScalarAsync<long>("SELECT count(*) FROM public.m_sdef_default"));
        Assert.Equal(0L, await database.DataSource.ScalarAsync<long>("SELECT count(*) FROM m_sdef WHERE body LIKE 'unrelated%'"));
        Assert.Empty(result.Failures);
        Assert.Equal(10L, await database.DataSource.ScalarAsync<long>("SELECT count(*) FROM m_sdef_p2026_09"));
        Assert.Equal(0L, await database.DataSource.ScalarAsync<long>("SELECT count(*) FROM elsewhere_def.m_sdef_default"));
    }
}
