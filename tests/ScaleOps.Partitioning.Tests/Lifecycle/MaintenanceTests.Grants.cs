using System.Threading.Tasks;
using Npgsql;
using ScaleOps.Data;
using ScaleOps.TestInfrastructure;
using Xunit;

namespace ScaleOps.Partitioning.Tests.Lifecycle;

public partial class MaintenanceTests
{
    /// <summary>
    /// Maintenance connected as the table's owner (no superuser) made partitions with no grant at all: a role granted on
    /// the parent was refused on a partition named directly. Each partition now gets the parent's grants, each made by
    /// its grantor; a grant the maintenance role cannot make as its grantor (another role's, which it is not a member
    /// of) is left out rather than recorded as the owner's, out of its grantor's reach: that grantee reads through the
    /// parent only, as before.
    /// </summary>
    [Fact]
    public async Task A_partition_gets_the_parents_grants_its_maintenance_role_can_make_as_their_grantors()
    {
        const string owner = "so_m_grants \"Owner\"";
        const string reader = "so_m_grants reader";
        const string delegated = "so_m_grants delegated";
        await PostgresServer.ExecuteAsync(
            $"DO $$ BEGIN CREATE ROLE {SqlIdentifier.Quote(owner)} LOGIN NOSUPERUSER; EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$;"
            + $"DO $$ BEGIN CREATE ROLE {SqlIdentifier.Quote(reader)} NOSUPERUSER; EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$;"
            + $"DO $$ BEGIN CREATE ROLE {SqlIdentifier.Quote(delegated)} NOSUPERUSER; EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$");
        var connectionString = new NpgsqlConnectionStringBuilder(database.ConnectionString) { Username = owner }.ConnectionString;
        var (host, _, maintenance) = await TableAsync("m_grants", connectionString: connectionString);
        using var _ = host;
        await database.DataSource.ExecAsync(
            $"GRANT CREATE ON DATABASE {SqlIdentifier.Quote(database.Name)} TO {SqlIdentifier.Quote(owner)}; GRANT CREATE ON SCHEMA public TO {SqlIdentifier.Quote(owner)};"
            + $"ALTER TABLE m_grants OWNER TO {SqlIdentifier.Quote(owner)};"
            + $"GRANT SELECT, INSERT ON m_grants TO {SqlIdentifier.Quote(reader)} WITH GRANT OPTION; GRANT UPDATE (body) ON m_grants TO {SqlIdentifier.Quote(reader)};"
            + $"SET ROLE {SqlIdentifier.Quote(reader)}; GRANT SELECT ON m_grants TO {SqlIdentifier.Quote(delegated)}; RESET ROLE");

        Assert.Empty((await maintenance.RunMaintenanceAsync()).Failures);

        Assert.Equal("t t f t f f", await database.DataSource.ScalarAsync<string>(
            $"SELECT concat_ws(' ', has_table_privilege($${reader}$$, 'm_grants_p2026_11', 'SELECT WITH GRANT OPTION'), "
            + $"has_table_privilege($${reader}$$, 'm_grants_p2026_11', 'INSERT'), has_table_privilege($${reader}$$, 'm_grants_p2026_11', 'UPDATE'), "
            + $"has_column_privilege($${reader}$$, 'm_grants_p2026_11', 'body', 'UPDATE'), has_column_privilege($${reader}$$, 'm_grants_p2026_11', 'id', 'UPDATE'), "
            + $"has_table_privilege($${delegated}$$, 'm_grants_p2026_11', 'SELECT'))"));
        Assert.Equal(owner, await database.DataSource.ScalarAsync<string>(
            "SELECT r.rolname::text FROM pg_class c JOIN pg_roles r ON r.oid = c.relowner WHERE c.oid = 'm_grants_p2026_11'::regclass"));
        Assert.True(await database.DataSource.ScalarAsync<bool>("SELECT has_table_privilege($$so_m_grants delegated$$, 'm_grants', 'SELECT')"));
    }

    /// <summary>
    /// Maintenance as a member of the owner role (not the owner): its GRANT is recorded as the owner's only while it holds
    /// no grant option of its own on the partition. The owner had granted it one too; carried first (its name sorts
    /// first), it made every later grant of the owner's a grant of the maintenance role's, which the owner's REVOKE on
    /// the partition did not remove. The owner's grants to the maintenance role itself now come last.
    /// </summary>
    [Fact]
    public async Task Grants_carried_by_a_member_of_the_owner_stay_the_owners()
    {
        const string owner = "so_m_member owner";
        const string member = "so_m_member a maintainer";
        const string reader = "so_m_member b reader";
        await PostgresServer.ExecuteAsync(
            $"DO $$ BEGIN CREATE ROLE {SqlIdentifier.Quote(owner)} NOSUPERUSER; EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$;"
            + $"DO $$ BEGIN CREATE ROLE {SqlIdentifier.Quote(member)} LOGIN NOSUPERUSER; EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$;"
            + $"DO $$ BEGIN CREATE ROLE {SqlIdentifier.Quote(reader)} NOSUPERUSER; EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$;"
            + $"GRANT {SqlIdentifier.Quote(owner)} TO {SqlIdentifier.Quote(member)}");
        var connectionString = new NpgsqlConnectionStringBuilder(database.ConnectionString) { Username = member }.ConnectionString;
        var (host, _, maintenance) = await TableAsync("m_member", connectionString: connectionString);
        using var _ = host;
        await database.DataSource.ExecAsync(
            $"GRANT CREATE ON SCHEMA public TO {SqlIdentifier.Quote(owner)}; ALTER TABLE m_member OWNER TO {SqlIdentifier.Quote(owner)};"
            + $"GRANT SELECT ON m_member TO {SqlIdentifier.Quote(member)} WITH GRANT OPTION; GRANT SELECT ON m_member TO {SqlIdentifier.Quote(reader)}");

        Assert.Empty((await maintenance.RunMaintenanceAsync()).Failures);

        Assert.Equal($"{owner} {owner}", await database.DataSource.ScalarAsync<string>(
            "SELECT string_agg(g.rolname, ' ' ORDER BY e.rolname) FROM pg_class c, aclexplode(c.relacl) a JOIN pg_roles g ON g.oid = a.grantor "
            + "JOIN pg_roles e ON e.oid = a.grantee WHERE c.oid = 'm_member_p2026_11'::regclass AND e.rolname <> g.rolname"));
        await database.DataSource.ExecAsync($"SET ROLE {SqlIdentifier.Quote(owner)}; REVOKE SELECT ON m_member_p2026_11 FROM {SqlIdentifier.Quote(reader)}; RESET ROLE");
        Assert.False(await database.DataSource.ScalarAsync<bool>($"SELECT has_table_privilege($${reader}$$, 'm_member_p2026_11', 'SELECT')"));
    }
}
