using System;
using System.Threading.Tasks;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using ScaleOps.Data;
using ScaleOps.Partitioning.Migration;
using ScaleOps.TestInfrastructure;
using Xunit;

namespace ScaleOps.Partitioning.Tests.Migration;

public partial class TableMigratorTests
{
    /// <summary>Each grant to <paramref name="grantee"/> on <paramref name="table"/> as <c>column:privilege/grantor</c>, ordered.</summary>
    private Task<string> GrantsToAsync(string table, string grantee) => database.DataSource.ScalarAsync<string>(
        "SELECT coalesce(string_agg(x, ' ' ORDER BY x), '') FROM ("
        + "SELECT ':' || a.privilege_type || '/' || g.rolname AS x FROM pg_class c, aclexplode(c.relacl) a JOIN pg_roles g ON g.oid = a.grantor "
        + $"WHERE c.oid = '{table}'::regclass AND a.grantee = (SELECT oid FROM pg_roles WHERE rolname = $${grantee}$$) "
        + "UNION ALL SELECT at.attname || ':' || a.privilege_type || '/' || g.rolname FROM pg_attribute at, aclexplode(at.attacl) a "
        + $"JOIN pg_roles g ON g.oid = a.grantor WHERE at.attrelid = '{table}'::regclass "
        + $"AND a.grantee = (SELECT oid FROM pg_roles WHERE rolname = $${grantee}$$)) s");

    /// <summary>
    /// A grant made by a role holding the grant option (not the owner) was carried as made by the migrating role, that
    /// is, by the owner. The delegate's own REVOKE then found nothing of its own to revoke (a warning, no error) and the
    /// reader kept its access to the converted table. The grant is now made as its original grantor (SET ROLE, since
    /// PostgreSQL 15's <c>GRANTED BY</c> accepts only the current user), on the partitioned table and its partitions.
    /// </summary>
    [Fact]
    public async Task A_delegated_grant_keeps_its_grantor_so_that_the_grantors_revoke_removes_it()
    {
        await CreateRolesAsync(GrantOwner, GrantDelegate, GrantReader);
        var (host, _, _) = await SetUpAsync("mig_gb");
        using var _ = host;
        await database.DataSource.ExecAsync(
            $"ALTER TABLE mig_gb OWNER TO {SqlIdentifier.Quote(GrantOwner)};"
            + $"GRANT SELECT, UPDATE ON mig_gb TO {SqlIdentifier.Quote(GrantDelegate)} WITH GRANT OPTION");
        await AsGrantorAsync(GrantDelegate, $"GRANT SELECT, UPDATE (body) ON mig_gb TO {SqlIdentifier.Quote(GrantReader)}");
        var before = await GrantsToAsync("mig_gb", GrantReader);
        Assert.Equal($":SELECT/{GrantDelegate} body:UPDATE/{GrantDelegate}", before);

        Assert.True((await host.Services.GetRequiredService<ITableMigrator>().ConvertAsync("public", "mig_gb", "mig_gb_new")).Swapped);

        // The delegate takes its grants back from the partitioned table: the reader loses them.
        await AsGrantorAsync(GrantDelegate, $"REVOKE SELECT, UPDATE (body) ON mig_gb FROM {SqlIdentifier.Quote(GrantReader)}");
        Assert.Equal("f f", await database.DataSource.ScalarAsync<string>(
            $"SELECT concat_ws(' ', has_table_privilege($${GrantReader}$$, 'mig_gb', 'SELECT'), has_column_privilege($${GrantReader}$$, 'mig_gb', 'body', 'UPDATE'))"));

        // The partitions carry the grant with its grantor too (made ahead, split out); PostgreSQL does not recurse a
        // REVOKE on the parent, so the delegate revokes on the partition, and that works.
        Assert.Equal(before, await GrantsToAsync("mig_gb_p2027_01", GrantReader));
        Assert.Equal(before, await GrantsToAsync("mig_gb_p2026_05", GrantReader));
        await AsGrantorAsync(GrantDelegate, $"REVOKE SELECT, UPDATE (body) ON mig_gb_p2027_01 FROM {SqlIdentifier.Quote(GrantReader)}");
        Assert.Equal("f f", await database.DataSource.ScalarAsync<string>(
            $"SELECT concat_ws(' ', has_table_privilege($${GrantReader}$$, 'mig_gb_p2027_01', 'SELECT'), "
            + $"has_column_privilege($${GrantReader}$$, 'mig_gb_p2027_01', 'body', 'UPDATE'))"));
    }

    /// <summary>
    /// A migrating role that cannot act as a grant's grantor (it is not a member of that role) would record the grant as
    /// the owner's, out of the grantor's reach: the conversion is refused before anything changes, naming the grant.
    /// </summary>
    [Fact]
    public async Task A_grant_whose_grantor_the_migrating_role_cannot_act_as_is_refused_up_front()
    {
        const string migrator = "so_mig_gb \"Migrator\"";
        await CreateRolesAsync(GrantDelegate, GrantReader);
        await PostgresServer.ExecuteAsync(
            $"DO $$ BEGIN CREATE ROLE {SqlIdentifier.Quote(migrator)} LOGIN NOSUPERUSER; EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$");
        var connectionString = new NpgsqlConnectionStringBuilder(database.ConnectionString) { Username = migrator }.ConnectionString;
        var (host, _, _) = await SetUpAsync("mig_gb_refused", connectionString: connectionString);
        using var _ = host;
        await database.DataSource.ExecAsync(
            $"GRANT CREATE ON SCHEMA public TO {SqlIdentifier.Quote(migrator)};"
            + $"GRANT CREATE ON DATABASE {SqlIdentifier.Quote(database.Name)} TO {SqlIdentifier.Quote(migrator)};"
            + $"ALTER TABLE mig_gb_refused OWNER TO {SqlIdentifier.Quote(migrator)}; ALTER TABLE mig_gb_refused_new OWNER TO {SqlIdentifier.Quote(migrator)};"
            + $"GRANT SELECT ON mig_gb_refused TO {SqlIdentifier.Quote(GrantDelegate)} WITH GRANT OPTION");
        await AsGrantorAsync(GrantDelegate, $"GRANT SELECT ON mig_gb_refused TO {SqlIdentifier.Quote(GrantReader)}");

        var error = await Assert.ThrowsAsync<InvalidOperationException>(
            () => host.Services.GetRequiredService<ITableMigrator>().ConvertAsync("public", "mig_gb_refused", "mig_gb_refused_new"));
        Assert.Contains($"SELECT to {SqlIdentifier.Quote(GrantReader)} granted by {SqlIdentifier.Quote(GrantDelegate)}", error.Message, StringComparison.Ordinal);
        Assert.Equal("r", await database.DataSource.ScalarAsync<string>("SELECT relkind::text FROM pg_class WHERE oid = 'mig_gb_refused'::regclass"));
        Assert.Equal(0L, await database.DataSource.ScalarAsync<long>(
            "SELECT count(*) FROM pg_constraint WHERE conrelid = 'mig_gb_refused'::regclass AND contype = 'c'"));
    }
}
