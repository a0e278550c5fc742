using System;
using System.Threading.Tasks;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;
using ScaleOps.Partitioning.Migration;
using Xunit;

namespace ScaleOps.Partitioning.Tests.Migration;

public partial class TableMigratorTests
{
    /// <summary>
    /// An identity id: the twin declares the same identity, whose sequence starts at 1, and after the swap the table
    /// reissued the ids of existing rows. It now goes on past the highest id and past every id the old sequence issued
    /// (here the last row was deleted, so that id is above the highest one left).
    /// </summary>
    [Fact]
    public async Task An_identity_id_goes_on_after_the_old_ids_once_converted()
    {
        await database.DataSource.ExecAsync(
            "CREATE TABLE mig_idn (id bigint GENERATED ALWAYS AS IDENTITY, created_at timestamptz NOT NULL, body text, PRIMARY KEY (id));"
            + "INSERT INTO mig_idn (created_at, body) SELECT '2026-09-01 00:00+00'::timestamptz + g * interval '6 hours', 'o' || g FROM generate_series(1, 100) g;"
            + "DELETE FROM mig_idn WHERE id = 100;"
            + "CREATE TABLE mig_idn_new (id bigint GENERATED ALWAYS AS IDENTITY, created_at timestamptz NOT NULL, body text, PRIMARY KEY (id, created_at)) "
            + "PARTITION BY RANGE (created_at);");
        using var host = BareHost("mig_idn", new FakeTimeProvider(TestHost.Monday));

        Assert.True((await host.Services.GetRequiredService<ITableMigrator>().ConvertAsync("public", "mig_idn", "mig_idn_new")).Swapped);
        Assert.Equal(101L, await database.DataSource.ScalarAsync<long>(
            "INSERT INTO mig_idn (created_at, body) VALUES ('2026-11-23 10:00+00', 'after') RETURNING id"));
        Assert.Equal(100L, await database.DataSource.ScalarAsync<long>("SELECT count(DISTINCT id) FROM mig_idn"));
    }

    /// <summary>
    /// A bigserial id whose twin is made with LIKE ... INCLUDING DEFAULTS, so both use the old table's sequence: owned by
    /// the old table, which became the default partition, it made the drop of the emptied default fail (2BP01) and the
    /// conversion never finished. The sequence now belongs to the partitioned table's column and the default goes.
    /// </summary>
    [Fact]
    public async Task A_serial_id_shared_with_the_twin_moves_to_the_partitioned_table_and_the_old_table_is_dropped()
    {
        await database.DataSource.ExecAsync(
            "CREATE TABLE mig_ser (id bigserial PRIMARY KEY, created_at timestamptz NOT NULL, body text);"
            + "INSERT INTO mig_ser (created_at, body) SELECT '2026-09-01 00:00+00'::timestamptz + g * interval '6 hours', 'o' || g FROM generate_series(1, 100) g;"
            + "CREATE TABLE mig_ser_new (LIKE mig_ser INCLUDING DEFAULTS, PRIMARY KEY (id, created_at)) PARTITION BY RANGE (created_at);");
        var time = new FakeTimeProvider(TestHost.Monday);
        using var host = BareHost("mig_ser", time);
        var migrator = host.Services.GetRequiredService<ITableMigrator>();

        Assert.True((await migrator.ConvertAsync("public", "mig_ser", "mig_ser_new")).Swapped);
        Assert.Equal("public.mig_ser_id_seq", await database.DataSource.ScalarAsync<string>("SELECT pg_get_serial_sequence('mig_ser', 'id')"));
        Assert.Equal(101L, await database.DataSource.ScalarAsync<long>(
            "INSERT INTO mig_ser (created_at, body) VALUES ('2026-11-23 10:00+00', 'after') RETURNING id"));

        time.Advance(TimeSpan.FromDays(60)); // 2027-01-22: November and December have closed, January has its partition
        await migrator.ConvertAsync("public", "mig_ser", "mig_ser_new");
        Assert.False(await database.DataSource.ScalarAsync<bool>("SELECT to_regclass('public.mig_ser_default') IS NOT NULL"));
        Assert.Equal(101L, await database.DataSource.ScalarAsync<long>("SELECT count(*) FROM mig_ser"));
        Assert.Equal(102L, await database.DataSource.ScalarAsync<long>(
            "INSERT INTO mig_ser (created_at, body) VALUES ('2027-01-22 10:00+00', 'later') RETURNING id"));
    }
}
