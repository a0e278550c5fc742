using System;
using System.Linq;
using System.Threading.Tasks;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Logging.Testing;
using Microsoft.Extensions.Options;
using Npgsql;
using ScaleOps.Rls.Safety;
using ScaleOps.Rls.Tests.Support;
using ScaleOps.TestInfrastructure;

namespace ScaleOps.Rls.Tests.Safety;

public class SafetyCheckTests(RlsDatabase database) : IClassFixture<RlsDatabase>
{
    private static IHost BuildHost(string connectionString, Action<RlsOptions>? configure = null) => RlsHosts.Checked(connectionString, configure);

    [Fact]
    public async Task A_safe_schema_starts_and_the_application_role_is_accepted()
    {
        using var host = BuildHost(database.AppConnectionString());
        await host.StartAsync();
        var warnings = host.Services.GetFakeLogCollector().GetSnapshot().Where(r => r.Level >= LogLevel.Warning).ToList();
        Assert.Empty(warnings);
        await host.StopAsync();
    }

    [Fact]
    public async Task A_bypass_role_that_is_a_superuser_or_lacks_BYPASSRLS_refuses_the_start_rather_than_the_first_system_job()
    {
        using (var host = BuildHost(database.AppConnectionString(), o => o.BypassConnectionString = database.AppConnectionString()))
        {
            var ex = await Assert.ThrowsAsync<RlsSafetyException>(() => host.StartAsync());
            Assert.Equal(
                [$"ScaleOps:Rls:BypassConnectionString connects as {RlsDatabase.AppRole}, which lacks BYPASSRLS: it would see no tenant's rows."],
                ex.Problems);
        }

        using (var host = BuildHost(database.AppConnectionString(), o => o.BypassConnectionString = database.ConnectionString))
        {
            var ex = await Assert.ThrowsAsync<RlsSafetyException>(() => host.StartAsync());
            Assert.Contains("ScaleOps:Rls:BypassConnectionString connects as postgres, a superuser", Assert.Single(ex.Problems), StringComparison.Ordinal);
        }

        // The right role starts, and the check neither logs a bypass opening nor counts one.
        using (var host = BuildHost(database.AppConnectionString(), o => o.BypassConnectionString = database.BypassConnectionString))
        {
            await host.StartAsync();
            Assert.DoesNotContain(host.Services.GetFakeLogCollector().GetSnapshot(), r => r.Id.Id == 2004);
            await host.StopAsync();
        }
    }

    [Fact]
    public async Task A_superuser_or_bypassrls_role_is_refused_unless_allowed()
    {
        using (var host = BuildHost(database.ConnectionString))
        {
            var ex = await Assert.ThrowsAsync<RlsSafetyException>(() => host.StartAsync());
            Assert.Contains("role postgres, which is SUPERUSER", ex.Message, StringComparison.Ordinal);
            Assert.Contains("ScaleOps:Rls:AllowBypassRlsRole", ex.Message, StringComparison.Ordinal);
        }

        using (var host = BuildHost(database.BypassConnectionString))
        {
            var ex = await Assert.ThrowsAsync<RlsSafetyException>(() => host.StartAsync());
            Assert.Contains($"role {RlsDatabase.BypassRole}, which is BYPASSRLS", ex.Message, StringComparison.Ordinal);
        }

        using (var host = BuildHost(database.BypassConnectionString, o => o.AllowBypassRlsRole = true))
        {
            await host.StartAsync();
            Assert.Contains(host.Services.GetFakeLogCollector().GetSnapshot(), r => r.Message.Contains("bypasses row-level security", StringComparison.Ordinal));
            await host.StopAsync();
        }
    }

    [Fact]
    public async Task Missing_rls_force_policy_index_and_leaking_views_are_reported()
    {
        await PostgresServer.ExecuteAsync("""
            CREATE TABLE loose (id int, tenant_id text);
            CREATE TABLE unforced (id int, tenant_id text); ALTER TABLE unforced ENABLE ROW LEVEL SECURITY;
            CREATE POLICY p ON unforced USING (true);
            CREATE TABLE nopolicy (id int, tenant_id text); ALTER TABLE nopolicy ENABLE ROW LEVEL SECURITY; ALTER TABLE nopolicy FORCE ROW LEVEL SECURITY;
            CREATE VIEW all_documents AS SELECT * FROM documents;
            CREATE VIEW safe_documents WITH (security_invoker = true) AS SELECT * FROM documents;
            """, database.Name);
        try
        {
            using var host = BuildHost(database.AppConnectionString(), o =>
            {
                o.Tables.Add(new RlsTable("public", "loose"));
                o.Tables.Add(new RlsTable("public", "unforced"));
                o.Tables.Add(new RlsTable("public", "nopolicy"));
            });
            var ex = await Assert.ThrowsAsync<RlsSafetyException>(() => host.StartAsync());
            Assert.Contains(ex.Problems, p => p.StartsWith("table loose does not have row level security enabled", StringComparison.Ordinal));
            Assert.Contains(ex.Problems, p => p.StartsWith("table unforced does not FORCE row level security", StringComparison.Ordinal));
            Assert.Contains(ex.Problems, p => p.StartsWith("table nopolicy has no policy", StringComparison.Ordinal));
            Assert.Contains(ex.Problems, p => p.StartsWith("view all_documents reads documents with its owner's rights", StringComparison.Ordinal));
            Assert.DoesNotContain(ex.Problems, p => p.Contains("safe_documents", StringComparison.Ordinal));
            var warnings = host.Services.GetFakeLogCollector().GetSnapshot().Select(r => r.Message).ToList();
            Assert.Contains(warnings, w => w.Contains("table loose has no index leading with tenant_id", StringComparison.Ordinal)
                && w.Contains("CREATE INDEX CONCURRENTLY ON \"public\".\"loose\" (\"tenant_id\");", StringComparison.Ordinal));
        }
        finally
        {
            await PostgresServer.ExecuteAsync("DROP VIEW all_documents; DROP VIEW safe_documents; DROP TABLE loose, unforced, nopolicy", database.Name);
        }
    }

    [Fact]
    public async Task A_permissive_policy_besides_the_tenant_policy_is_reported()
    {
        // Permissive policies are ORed: "read_all" next to the tenant policy would show every tenant's rows.
        await PostgresServer.ExecuteAsync("""
            CREATE TABLE widened (tenant_id text NOT NULL, body text); CREATE INDEX ON widened (tenant_id);
            CREATE POLICY read_all ON widened FOR SELECT USING (true);
            CREATE POLICY only_recent ON widened AS RESTRICTIVE USING (body IS NOT NULL);
            """, database.Name);
        try
        {
            var owner = new RlsOptions();
            owner.Tables.Add(new RlsTable("public", "widened"));
            await new RlsPolicyManager(database.DataSource, Options.Create(owner), NullLogger<RlsPolicyManager>.Instance).ApplyAsync();
            using var host = BuildHost(database.AppConnectionString(), o => o.Tables.Add(new RlsTable("public", "widened")));
            await host.StartAsync();
            var warnings = host.Services.GetFakeLogCollector().GetSnapshot().Where(r => r.Level == LogLevel.Warning).Select(r => r.Message).ToList();
            Assert.Contains(warnings, w => w.Contains("table widened has permissive policies that ScaleOps does not manage (read_all)", StringComparison.Ordinal));
            await host.StopAsync();
        }
        finally
        {
            await PostgresServer.ExecuteAsync("DROP TABLE widened", database.Name);
        }
    }

    [Fact]
    public async Task A_partition_without_its_own_row_security_is_reported()
    {
        // The parent is protected, but a partition queried by name uses its own (absent) policies.
        await PostgresServer.ExecuteAsync("""
            CREATE TABLE parted (tenant_id text NOT NULL, at date NOT NULL) PARTITION BY RANGE (at);
            CREATE INDEX ON parted (tenant_id);
            CREATE TABLE parted_2026 PARTITION OF parted FOR VALUES FROM ('2026-01-01') TO ('2027-01-01');
            """, database.Name);
        await RlsChecks.Manager(database, new RlsTable("public", "parted")).ApplyAsync();
        await PostgresServer.ExecuteAsync(
            "ALTER TABLE parted_2026 NO FORCE ROW LEVEL SECURITY, DISABLE ROW LEVEL SECURITY; DROP POLICY scaleops_tenant ON parted_2026", database.Name);
        try
        {
            using var host = BuildHost(database.AppConnectionString(), o => o.Tables.Add(new RlsTable("public", "parted")));
            var ex = await Assert.ThrowsAsync<RlsSafetyException>(() => host.StartAsync());
            Assert.Contains(ex.Problems, p => p.StartsWith("partition \"public\".\"parted_2026\" of parted does not have row level security", StringComparison.Ordinal));
            Assert.DoesNotContain(ex.Problems, p => p.StartsWith("table parted ", StringComparison.Ordinal));

            Assert.Contains(ex.Problems, p => p.StartsWith("table parted_2026 lacks the policy scaleops_tenant", StringComparison.Ordinal));

            await RlsChecks.Manager(database, new RlsTable("public", "parted")).ApplyAsync();
            using var fixedHost = BuildHost(database.AppConnectionString(), o => o.Tables.Add(new RlsTable("public", "parted")));
            await fixedHost.StartAsync();
            await fixedHost.StopAsync();
        }
        finally
        {
            await PostgresServer.ExecuteAsync("DROP TABLE parted", database.Name);
        }
    }

    [Fact]
    public async Task A_tenant_table_added_after_the_policies_were_applied_is_named_at_start_up()
    {
        // A new table with the declared tables' tenant column, in their schema, created after the policies were applied:
        // undeclared, row-level security does not protect it, and every tenant reads all its rows.
        await PostgresServer.ExecuteAsync("""
            CREATE TABLE invoices_late (id int PRIMARY KEY, tenant_id text NOT NULL);
            CREATE INDEX ON invoices_late (tenant_id);
            CREATE TABLE parted_late (id int, tenant_id text NOT NULL) PARTITION BY LIST (tenant_id);
            CREATE TABLE parted_late_t01 PARTITION OF parted_late FOR VALUES IN ('t01');
            CREATE TABLE lookup_late (id int, name text);
            CREATE TABLE system_late (id int, tenant_id text);
            CREATE SCHEMA elsewhere_late; CREATE TABLE elsewhere_late.orders (id int, tenant_id text);
            GRANT SELECT ON invoices_late, parted_late, lookup_late TO scaleops_rls_app;
            """, database.Name);
        try
        {
            using (var host = BuildHost(database.AppConnectionString()))
            {
                await host.StartAsync();
                var warnings = host.Services.GetFakeLogCollector().GetSnapshot().Where(r => r.Level >= LogLevel.Warning).Select(r => r.Message).ToList();
                Assert.Contains(warnings, w => w.Contains(
                    "table invoices_late has the tenant column tenant_id of the declared tables in schema public but is not declared", StringComparison.Ordinal)
                    && w.Contains("row level security is disabled", StringComparison.Ordinal));
                Assert.Contains(warnings, w => w.Contains("table parted_late has the tenant column tenant_id", StringComparison.Ordinal));
                Assert.DoesNotContain(warnings, w => w.Contains("parted_late_t01", StringComparison.Ordinal)); // its parent is named
                Assert.DoesNotContain(warnings, w => w.Contains("lookup_late", StringComparison.Ordinal)); // no tenant column
                Assert.DoesNotContain(warnings, w => w.Contains("system_late", StringComparison.Ordinal)); // the app role cannot touch it
                Assert.DoesNotContain(warnings, w => w.Contains("elsewhere_late", StringComparison.Ordinal)); // no declared table there
                await host.StopAsync();
            }

            // Declared, but the policies not applied yet: refused, naming it.
            using (var host = BuildHost(database.AppConnectionString(), o => o.Tables.Add(new RlsTable("public", "invoices_late"))))
            {
                var ex = await Assert.ThrowsAsync<RlsSafetyException>(() => host.StartAsync());
                Assert.Contains(ex.Problems, p => p.StartsWith("table invoices_late does not have row level security enabled", StringComparison.Ordinal));
            }
        }
        finally
        {
            await PostgresServer.ExecuteAsync("DROP TABLE invoices_late, parted_late, lookup_late, system_late; DROP SCHEMA elsewhere_late CASCADE", database.Name);
        }
    }

    [Fact]
    public async Task The_auditor_lists_unprotected_tables_and_leaking_views()
    {
        await using var admin = NpgsqlDataSource.Create(database.ConnectionString);
        Assert.True((await RlsSchemaAuditor.AuditAsync(admin, "public")).IsClean);

        await PostgresServer.ExecuteAsync("""
            CREATE SCHEMA audit_me;
            CREATE TABLE audit_me.orders (id int, tenant_id text);
            CREATE TABLE audit_me.lookup (id int, name text);
            CREATE TABLE audit_me.unforced (id int, tenant_id text); ALTER TABLE audit_me.unforced ENABLE ROW LEVEL SECURITY;
            CREATE POLICY p ON audit_me.unforced USING (tenant_id = current_setting('app.tenant_id', true));
            CREATE TABLE audit_me.nopolicy (id int, tenant_id text);
            ALTER TABLE audit_me.nopolicy ENABLE ROW LEVEL SECURITY; ALTER TABLE audit_me.nopolicy FORCE ROW LEVEL SECURITY;
            CREATE TABLE audit_me.safe (id int, tenant_id text);
            ALTER TABLE audit_me.safe ENABLE ROW LEVEL SECURITY; ALTER TABLE audit_me.safe FORCE ROW LEVEL SECURITY;
            CREATE POLICY p ON audit_me.safe USING (tenant_id = current_setting('app.tenant_id', true));
            CREATE VIEW audit_me.safe_report AS SELECT count(*) FROM audit_me.safe;
            CREATE MATERIALIZED VIEW audit_me.safe_cache AS SELECT * FROM audit_me.safe;
            """, database.Name);
        var report = await RlsSchemaAuditor.AuditAsync(admin, "audit_me");
        Assert.False(report.IsClean);
        Assert.Equal(
        [
            "audit_me.nopolicy: it has no policy",
            "audit_me.orders: row level security is disabled",
            "audit_me.unforced: row level security is not forced (the owner bypasses it)",
        ], report.UnprotectedTables);
        Assert.Equal(2, report.LeakingViews.Count);
        Assert.Contains(report.LeakingViews, v => v.StartsWith("materialized view audit_me.safe_cache stores rows of audit_me.safe", StringComparison.Ordinal));
        Assert.Contains(report.LeakingViews, v => v.StartsWith("view audit_me.safe_report reads audit_me.safe", StringComparison.Ordinal));
    }
}
