using System;
using System.Linq;
using System.Text.RegularExpressions;
using System.Threading.Tasks;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging.Testing;
using Npgsql;
using ScaleOps.Data;
using ScaleOps.Partitioning.Lifecycle;
using ScaleOps.TestInfrastructure;
using Xunit;

namespace ScaleOps.Partitioning.Tests.Lifecycle;

/// <summary>
/// PostgreSQL does not recurse GRANT or REVOKE from a partitioned table to its partitions. Since partitions carry copies
/// of the parent's grants, a role revoked on the parent kept reading every existing partition by name, and a grant on
/// the parent reached only the partitions created after it. Each maintenance run now keeps the partitions' grants in
/// step with the parent's. Maintenance runs as the table's owner (no superuser), as in production.
/// </summary>
public partial class MaintenanceTests
{
    private async Task<(IHost Host, IPartitionMaintenance Maintenance, string Owner)> OwnedTableAsync(string name, params string[] roles)
    {
        var owner = $"so_gs {name} owner";
        await PostgresServer.ExecuteAsync(string.Concat(new[] { owner }.Concat(roles).Select(r =>
            $"DO $$ BEGIN CREATE ROLE {SqlIdentifier.Quote(r)} {(r == owner ? "LOGIN " : "")}NOSUPERUSER; "
            + "EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$;")));
        var connectionString = new NpgsqlConnectionStringBuilder(database.ConnectionString) { Username = owner }.ConnectionString;
        var (host, _, maintenance) = await TableAsync(name, connectionString: connectionString, services: s => s.AddFakeLogging());
        await database.DataSource.ExecAsync(
            $"GRANT CREATE ON DATABASE {SqlIdentifier.Quote(database.Name)} TO {SqlIdentifier.Quote(owner)}; GRANT CREATE ON SCHEMA public TO {SqlIdentifier.Quote(owner)};"
            + $"ALTER TABLE {name} OWNER TO {SqlIdentifier.Quote(owner)}");
        return (host, maintenance, owner);
    }

    /// <summary>Runs <paramref name="sql"/> as <paramref name="role"/> (SET LOCAL ROLE from the superuser).</summary>
    private async Task AsRoleAsync(string role, string sql)
    {
        await using var connection = await database.DataSource.OpenConnectionAsync();
        await using var transaction = await connection.BeginTransactionAsync();
        await using var command = new NpgsqlCommand($"SET LOCAL ROLE {SqlIdentifier.Quote(role)}; {sql}", connection, transaction);
        await command.ExecuteNonQueryAsync();
        await transaction.CommitAsync();
    }

    /// <summary>"read" or "denied" (42501): what <paramref name="role"/> gets from <c>SELECT ... FROM relation</c>.</summary>
    private async Task<string> ReadAsAsync(string role, string relation)
    {
        try
        {
            await AsRoleAsync(role, $"SELECT count(*) FROM {relation}");
            return "read";
        }
        catch (PostgresException ex) when (ex.SqlState == PostgresErrorCodes.InsufficientPrivilege)
        {
            return "denied";
        }
    }

    /// <summary>The grants on <paramref name="relation"/> to roles other than its owner: <c>column:privilege/grantee/grantor[*]</c>, sorted.</summary>
    private Task<string> GrantsOnAsync(string relation) => database.DataSource.ScalarAsync<string>(
        "SELECT coalesce(string_agg(x, ' ' ORDER BY x), '') FROM ("
        + "SELECT ':' || a.privilege_type || '/' || e.rolname || '/' || g.rolname || CASE WHEN a.is_grantable THEN '*' ELSE '' END AS x "
        + $"FROM pg_class c, aclexplode(c.relacl) a JOIN pg_roles e ON e.oid = a.grantee JOIN pg_roles g ON g.oid = a.grantor WHERE c.oid = '{relation}'::regclass AND a.grantee <> c.relowner "
        + "UNION ALL SELECT t.attname || ':' || a.privilege_type || '/' || e.rolname || '/' || g.rolname || CASE WHEN a.is_grantable THEN '*' ELSE '' END "
        + "FROM pg_attribute t, aclexplode(t.attacl) a JOIN pg_roles e ON e.oid = a.grantee JOIN pg_roles g ON g.oid = a.grantor "
        + $"WHERE t.attrelid = '{relation}'::regclass AND t.attnum > 0) s");

    [Fact]
    public async Task A_revoke_on_the_parent_reaches_the_existing_partitions_at_the_next_run()
    {
        const string reader = "so_gs revoke reader";
        var (host, maintenance, owner) = await OwnedTableAsync("m_gs_revoke", reader);
        using var _ = host;
        await AsRoleAsync(owner, $"GRANT SELECT ON m_gs_revoke TO {SqlIdentifier.Quote(reader)}");
        Assert.Empty((await maintenance.RunMaintenanceAsync()).Failures);
        Assert.Equal("read", await ReadAsAsync(reader, "m_gs_revoke_p2026_11"));

        await AsRoleAsync(owner, $"REVOKE SELECT ON m_gs_revoke FROM {SqlIdentifier.Quote(reader)}");
        var result = await maintenance.RunMaintenanceAsync();

        Assert.Empty(result.Failures);
        Assert.Equal("denied", await ReadAsAsync(reader, "m_gs_revoke_p2026_11"));
        Assert.Equal("denied", await ReadAsAsync(reader, "m_gs_revoke_p2026_09"));
        Assert.Equal("denied", await ReadAsAsync(reader, "m_gs_revoke"));
        Assert.Equal("", await GrantsOnAsync("m_gs_revoke_p2027_01"));
    }

    [Fact]
    public async Task A_grant_on_the_parent_reaches_the_existing_partitions_under_its_grantor()
    {
        const string delegated = "so_gs grant delegate";
        const string reader = "so_gs grant reader";
        var (host, maintenance, owner) = await OwnedTableAsync("m_gs_grant", delegated, reader);
        using var _ = host;
        await database.DataSource.ExecAsync($"GRANT {SqlIdentifier.Quote(delegated)} TO {SqlIdentifier.Quote(owner)}");
        Assert.Empty((await maintenance.RunMaintenanceAsync()).Failures);
        Assert.Equal("denied", await ReadAsAsync(reader, "m_gs_grant_p2026_11"));

        await AsRoleAsync(owner, $"GRANT SELECT ON m_gs_grant TO {SqlIdentifier.Quote(delegated)} WITH GRANT OPTION");
        await AsRoleAsync(delegated, $"GRANT SELECT ON m_gs_grant TO {SqlIdentifier.Quote(reader)}");
        var result = await maintenance.RunMaintenanceAsync();

        Assert.Empty(result.Failures);
        Assert.Equal("read", await ReadAsAsync(reader, "m_gs_grant_p2026_11"));
        Assert.Equal($":SELECT/{delegated}/{owner}* :SELECT/{reader}/{delegated}", await GrantsOnAsync("m_gs_grant_p2026_11"));
        Assert.Equal(await GrantsOnAsync("m_gs_grant"), await GrantsOnAsync("m_gs_grant_p2026_09"));
    }

    [Fact]
    public async Task Column_grants_revoked_and_added_on_the_parent_follow_on_the_partitions()
    {
        const string reader = "so_gs column reader";
        var (host, maintenance, owner) = await OwnedTableAsync("m_gs_column", reader);
        using var _ = host;
        await AsRoleAsync(owner, $"GRANT SELECT (id, body) ON m_gs_column TO {SqlIdentifier.Quote(reader)}");
        Assert.Empty((await maintenance.RunMaintenanceAsync()).Failures);
        Assert.Equal($"body:SELECT/{reader}/{owner} id:SELECT/{reader}/{owner}", await GrantsOnAsync("m_gs_column_p2026_11"));

        await AsRoleAsync(owner, $"REVOKE SELECT (body) ON m_gs_column FROM {SqlIdentifier.Quote(reader)}; "
            + $"GRANT UPDATE (body) ON m_gs_column TO {SqlIdentifier.Quote(reader)}");
        Assert.Empty((await maintenance.RunMaintenanceAsync()).Failures);

        Assert.Equal($"body:UPDATE/{reader}/{owner} id:SELECT/{reader}/{owner}", await GrantsOnAsync("m_gs_column_p2026_11"));
        Assert.Equal("f t t", await database.DataSource.ScalarAsync<string>(
            $"SELECT concat_ws(' ', has_column_privilege($${reader}$$, 'm_gs_column_p2026_10', 'body', 'SELECT'), "
            + $"has_column_privilege($${reader}$$, 'm_gs_column_p2026_10', 'id', 'SELECT'), has_column_privilege($${reader}$$, 'm_gs_column_p2026_10', 'body', 'UPDATE'))"));
    }

    [Fact]
    public async Task A_grant_made_on_one_partition_only_is_removed_by_the_next_run()
    {
        const string reader = "so_gs direct reader";
        var (host, maintenance, owner) = await OwnedTableAsync("m_gs_direct", reader);
        using var _ = host;
        Assert.Empty((await maintenance.RunMaintenanceAsync()).Failures);
        await AsRoleAsync(owner, $"GRANT SELECT, DELETE ON m_gs_direct_p2026_10 TO {SqlIdentifier.Quote(reader)}");
        Assert.Equal("read", await ReadAsAsync(reader, "m_gs_direct_p2026_10"));
        var plan = await maintenance.RunMaintenanceAsync(dryRun: true);
        Assert.Equal(["SyncGrants m_gs_direct_p2026_10"], plan.Actions.Select(a => $"{a.Kind} {a.Partition}"));
        Assert.Equal("read", await ReadAsAsync(reader, "m_gs_direct_p2026_10"));

        var result = await maintenance.RunMaintenanceAsync();

        Assert.Empty(result.Failures);
        Assert.Equal("denied", await ReadAsAsync(reader, "m_gs_direct_p2026_10"));
        Assert.Equal("", await GrantsOnAsync("m_gs_direct_p2026_10"));
        var synced = Assert.Single(result.Actions);
        Assert.Equal((PartitionActionKind.SyncGrants, "m_gs_direct_p2026_10"), (synced.Kind, synced.Partition));
    }

    [Fact]
    public async Task A_delegates_revoke_on_the_parent_takes_its_grant_off_the_partitions()
    {
        const string delegated = "so_gs delegated delegate";
        const string reader = "so_gs delegated reader";
        var (host, maintenance, owner) = await OwnedTableAsync("m_gs_delegated", delegated, reader);
        using var _ = host;
        await database.DataSource.ExecAsync($"GRANT {SqlIdentifier.Quote(delegated)} TO {SqlIdentifier.Quote(owner)}");
        await AsRoleAsync(owner, $"GRANT SELECT ON m_gs_delegated TO {SqlIdentifier.Quote(delegated)} WITH GRANT OPTION");
        await AsRoleAsync(delegated, $"GRANT SELECT ON m_gs_delegated TO {SqlIdentifier.Quote(reader)}");
        Assert.Empty((await maintenance.RunMaintenanceAsync()).Failures);
        Assert.Equal("read", await ReadAsAsync(reader, "m_gs_delegated_p2026_11"));

        await AsRoleAsync(delegated, $"REVOKE SELECT ON m_gs_delegated FROM {SqlIdentifier.Quote(reader)}");
        Assert.Empty((await maintenance.RunMaintenanceAsync()).Failures);

        Assert.Equal("denied", await ReadAsAsync(reader, "m_gs_delegated_p2026_11"));
        Assert.Equal("read", await ReadAsAsync(delegated, "m_gs_delegated_p2026_11"));
        Assert.Equal($":SELECT/{delegated}/{owner}*", await GrantsOnAsync("m_gs_delegated_p2026_11"));
    }

    /// <summary>
    /// A run with nothing to change reads the grants once and writes nothing: no GRANT or REVOKE is sent (counted from
    /// Npgsql's activities on this test's database). The first runs show the sync at work, so that it is not nothing
    /// that is being counted.
    /// </summary>
    [Fact]
    public async Task A_run_with_nothing_changed_sends_no_grant_or_revoke()
    {
        const string reader = "so_gs quiet reader";
        var (host, maintenance, owner) = await OwnedTableAsync("m_gs_quiet", reader);
        using var _ = host;
        await AsRoleAsync(owner, $"GRANT SELECT, INSERT ON m_gs_quiet TO {SqlIdentifier.Quote(reader)}; GRANT UPDATE (body) ON m_gs_quiet TO {SqlIdentifier.Quote(reader)}");
        Assert.Empty((await maintenance.RunMaintenanceAsync()).Failures);
        await AsRoleAsync(owner, $"REVOKE INSERT ON m_gs_quiet FROM {SqlIdentifier.Quote(reader)}");
        Assert.Empty((await maintenance.RunMaintenanceAsync()).Failures);
        Assert.Equal($":SELECT/{reader}/{owner} body:UPDATE/{reader}/{owner}", await GrantsOnAsync("m_gs_quiet_p2026_12"));

        using var recorder = new ActivityRecorder("Npgsql");
        var quiet = await maintenance.RunMaintenanceAsync();

        Assert.Empty(quiet.Failures);
        Assert.Empty(quiet.Actions);
        var sent = recorder.Stopped
            .Where(a => Equals(a.GetTagItem("db.namespace"), database.Name) && a.GetTagItem("db.query.text") is string)
            .Select(a => (string)a.GetTagItem("db.query.text")!)
            .ToList();
        Assert.NotEmpty(sent); // the run did read
        Assert.DoesNotContain(sent, q => Regex.IsMatch(q, @"(^|;)\s*(GRANT|REVOKE)\s"));
    }

    /// <summary>
    /// A grant the maintenance role cannot act as the grantor of (a role it is not a member of): neither made nor
    /// revoked as another role. Each is logged (4016) naming the table, partition, grantee and grantor, and the run goes
    /// on: the owner's own grant made on the same partition is still removed.
    /// </summary>
    [Fact]
    public async Task A_grant_whose_grantor_maintenance_cannot_act_as_is_logged_and_the_run_goes_on()
    {
        const string outsider = "so_gs outsider other";
        const string reader = "so_gs outsider reader";
        var (host, maintenance, owner) = await OwnedTableAsync("m_gs_outsider", outsider, reader);
        using var _ = host;
        await AsRoleAsync(owner, $"GRANT SELECT ON m_gs_outsider TO {SqlIdentifier.Quote(outsider)} WITH GRANT OPTION");
        Assert.Empty((await maintenance.RunMaintenanceAsync()).Failures);
        await AsRoleAsync(outsider, $"GRANT SELECT ON m_gs_outsider_p2026_11 TO {SqlIdentifier.Quote(reader)}");
        await AsRoleAsync(owner, $"GRANT DELETE ON m_gs_outsider_p2026_11 TO {SqlIdentifier.Quote(reader)}");
        var logs = host.Services.GetFakeLogCollector();
        logs.Clear();

        var result = await maintenance.RunMaintenanceAsync();

        Assert.Empty(result.Failures);
        Assert.Equal($":SELECT/{outsider}/{owner}* :SELECT/{reader}/{outsider}", await GrantsOnAsync("m_gs_outsider_p2026_11"));
        var warning = Assert.Single(logs.GetSnapshot(), r => r.Id.Id == 4016);
        Assert.Equal(Microsoft.Extensions.Logging.LogLevel.Warning, warning.Level);
        Assert.Equal("\"public\".\"m_gs_outsider\"", warning.GetStructuredStateValue("Table"));
        Assert.Equal("m_gs_outsider_p2026_11", warning.GetStructuredStateValue("Partition"));
        Assert.Equal(reader, warning.GetStructuredStateValue("Grantee"));
        Assert.Equal(outsider, warning.GetStructuredStateValue("Grantor"));

        // The health report counts the grant that stays (the parent does not give it), and the table is not healthy.
        var health = Assert.Single(await maintenance.GetHealthAsync());
        Assert.Equal(1, health.PartitionGrantsNotOnParent);
        Assert.False(health.IsHealthy);
        await AsRoleAsync(outsider, $"REVOKE SELECT ON m_gs_outsider_p2026_11 FROM {SqlIdentifier.Quote(reader)}");
        Assert.True(Assert.Single(await maintenance.GetHealthAsync()).IsHealthy);
    }

    /// <summary>
    /// 4016 is logged once per partition and condition while it lasts (the health report shows it continuously), again
    /// for a new condition, and again when a condition that had cleared comes back.
    /// </summary>
    [Fact]
    public async Task A_grant_maintenance_cannot_act_on_is_logged_once_while_it_lasts_and_again_when_it_comes_back()
    {
        const string outsider = "so_gs once other";
        const string reader = "so_gs once reader";
        const string second = "so_gs once second";
        var (host, maintenance, owner) = await OwnedTableAsync("m_gs_once", outsider, reader, second);
        using var _ = host;
        await AsRoleAsync(owner, $"GRANT SELECT ON m_gs_once TO {SqlIdentifier.Quote(outsider)} WITH GRANT OPTION");
        Assert.Empty((await maintenance.RunMaintenanceAsync()).Failures);
        await AsRoleAsync(outsider, $"GRANT SELECT ON m_gs_once_p2026_11 TO {SqlIdentifier.Quote(reader)}");
        var logs = host.Services.GetFakeLogCollector();
        logs.Clear();
        System.Collections.Generic.List<string> Logged() =>
            [.. logs.GetSnapshot().Where(r => r.Id.Id == 4016).Select(r => $"{r.GetStructuredStateValue("Partition")} {r.GetStructuredStateValue("Grantee")}")];

        for (var run = 0; run < 3; run++)
        {
            Assert.Empty((await maintenance.RunMaintenanceAsync()).Failures);
        }

        Assert.Equal([$"m_gs_once_p2026_11 {reader}"], Logged());
        Assert.Equal(1, Assert.Single(await maintenance.GetHealthAsync()).PartitionGrantsNotOnParent); // shown at each check

        // Another condition on the same partition is logged once too; the first is not logged again.
        await AsRoleAsync(outsider, $"GRANT SELECT ON m_gs_once_p2026_11 TO {SqlIdentifier.Quote(second)}");
        await maintenance.RunMaintenanceAsync();
        await maintenance.RunMaintenanceAsync();
        Assert.Equal([$"m_gs_once_p2026_11 {reader}", $"m_gs_once_p2026_11 {second}"], Logged());

        // Cleared (revoked by hand), then back: logged again.
        await AsRoleAsync(outsider, $"REVOKE SELECT ON m_gs_once_p2026_11 FROM {SqlIdentifier.Quote(reader)}");
        await maintenance.RunMaintenanceAsync();
        Assert.Equal(2, Logged().Count);
        await AsRoleAsync(outsider, $"GRANT SELECT ON m_gs_once_p2026_11 TO {SqlIdentifier.Quote(reader)}");
        await maintenance.RunMaintenanceAsync();
        await maintenance.RunMaintenanceAsync();
        Assert.Equal([$"m_gs_once_p2026_11 {reader}", $"m_gs_once_p2026_11 {second}", $"m_gs_once_p2026_11 {reader}"], Logged());
    }
}
