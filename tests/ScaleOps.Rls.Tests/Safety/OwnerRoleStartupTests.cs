using System;
using System.Linq;
using System.Threading.Tasks;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;
using Npgsql;
using ScaleOps.Rls.Tests.Support;
using ScaleOps.Tenancy;
using ScaleOps.TestInfrastructure;

namespace ScaleOps.Rls.Tests.Safety;

/// <summary>
/// ApplyPoliciesOnStart with a separate owner role (README, Use): the tables belong to a NOLOGIN owner role, the
/// application role only holds SELECT, INSERT, UPDATE, DELETE. A host started through the owner's connection (the
/// migration login acting as the owner) applies the policies at start; the application role, which cannot, is then
/// isolated, and its own start with the default ApplyPoliciesOnStart finds them up to date.
/// </summary>
public class OwnerRoleStartupTests(OwnerRoleStartupTests.OwnedDatabase database) : IClassFixture<OwnerRoleStartupTests.OwnedDatabase>
{
    private string AppConnectionString => new NpgsqlConnectionStringBuilder(database.ConnectionString) { Username = RlsDatabase.AppRole }.ToString();

    private static IHost BuildHost(string connectionString, bool applyMigrations, params RlsTable[] tables)
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Services.AddFakeLogging();
        builder.Logging.SetMinimumLevel(LogLevel.Debug);
        builder.Services.AddScaleOps(o =>
        {
            o.ConnectionString = connectionString;
            o.ApplyMigrationsOnStart = applyMigrations;
        }).AddRls(o =>
        {
            foreach (var table in tables)
            {
                o.Tables.Add(table);
            }

            Assert.True(o.ApplyPoliciesOnStart); // the default, left as it is
        });
        return builder.Build();
    }

    private async Task<long> ScaleOpsPoliciesAsync(string table)
    {
        await using var command = database.DataSource.CreateCommand(
            "SELECT count(*) FROM pg_policies WHERE schemaname = 'public' AND tablename = $1 AND policyname LIKE 'scaleops%'");
        command.Parameters.Add(new NpgsqlParameter { Value = table });
        return (long)(await command.ExecuteScalarAsync())!;
    }

    [Fact]
    public async Task Policies_applied_at_start_through_the_owner_s_connection_isolate_the_application_role_that_does_not_own_the_tables()
    {
        await using (var owners = database.DataSource.CreateCommand(
            "SELECT count(*) FILTER (WHERE pg_get_userbyid(c.relowner) <> $1), count(*) FILTER (WHERE pg_has_role($2, c.relowner, 'USAGE')) "
            + "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public' AND c.relkind = 'r'"))
        {
            owners.Parameters.Add(new NpgsqlParameter { Value = OwnedDatabase.OwnerRole });
            owners.Parameters.Add(new NpgsqlParameter { Value = RlsDatabase.AppRole });
            await using var reader = await owners.ExecuteReaderAsync();
            await reader.ReadAsync();
            Assert.Equal(0L, reader.GetInt64(0)); // every table belongs to the owner role
            Assert.Equal(0L, reader.GetInt64(1)); // and the application role neither owns one nor is a member of its owner
        }

        Assert.Equal(0L, await ScaleOpsPoliciesAsync("documents"));

        // The migration step: the host started through the owner's connection installs ScaleOps' schema and applies the
        // policies on start.
        using (var migration = BuildHost(database.OwnerConnectionString, applyMigrations: true, RlsDatabase.Tables()))
        {
            await migration.StartAsync();
            await migration.StopAsync();
            var logs = migration.Services.GetFakeLogCollector().GetSnapshot().Where(FromRls).ToList();
            Assert.Contains(logs, r => r.Id.Id == 2001 && r.Message == "RLS: documents: forced row level security (applies to the owner too)");
        }

        Assert.NotEqual(0L, await ScaleOpsPoliciesAsync("documents"));

        // The application starts as a role that owns nothing, with ApplyPoliciesOnStart left at its default: the
        // policies are up to date, so it changes nothing and its checks pass with one warning only: the fixture's table
        // drafts (declared by another test of this class) has a tenant column and the application role's grants, but no
        // row security and no declaration here.
        using (var app = BuildHost(AppConnectionString, applyMigrations: false, RlsDatabase.Tables()))
        {
            await app.StartAsync();
            await app.StopAsync();
            var logs = app.Services.GetFakeLogCollector().GetSnapshot();
            Assert.Contains(logs.Where(FromRls), r => r.Id.Id == 2002);
            Assert.DoesNotContain(logs.Where(FromRls), r => r.Id.Id == 2001);
            Assert.StartsWith(
                "RLS safety check: table drafts has the tenant column tenant_id of the declared tables in schema public but is not declared",
                Assert.Single(logs.Where(r => r.Level >= LogLevel.Warning).Select(r => r.Message)), StringComparison.Ordinal);
        }

        // Isolation, as the application role.
        await using var services = RlsDatabase.Services(AppConnectionString);
        var apis = new RlsApis(services);
        foreach (var api in new[] { Api.Batch, Api.Transaction, Api.Dapper, Api.EfCore })
        {
            using (apis.Tenants.BeginScope(new TenantId("t03")))
            {
                Assert.Equal(Enumerable.Repeat("t03", 3), await apis.ReadTenantsAsync(api));
                var planted = await Assert.ThrowsAnyAsync<Exception>(() =>
                    apis.ExecuteAsync(api, "INSERT INTO documents (tenant_id, title) VALUES (@a, 'planted')", new { a = "t05" }));
                Assert.Equal(PostgresErrorCodes.InsufficientPrivilege, OwnerRoles.FindPostgres(planted).SqlState);
            }

            using (apis.Tenants.BeginScope(new TenantId("t05")))
            {
                Assert.Equal(Enumerable.Repeat("t05", 5), await apis.ReadTenantsAsync(api));
            }
        }

        await using (var noTenant = apis.Raw.CreateCommand("SELECT count(*) FROM documents"))
        {
            Assert.Equal(0L, await noTenant.ExecuteScalarAsync()); // the application role without a tenant sees nothing
        }
    }

    [Fact]
    public async Task An_application_role_that_does_not_own_a_declared_table_cannot_apply_its_policies_at_start_and_is_told_its_owner_and_the_fix()
    {
        // ApplyPoliciesOnStart left at its default by an application that does not own a table the migration step has
        // not secured yet: PostgreSQL's "must be owner of table drafts" alone names neither role nor what to change.
        using var app = BuildHost(AppConnectionString, applyMigrations: false, new RlsTable("public", "drafts"));
        var failure = await Assert.ThrowsAsync<InvalidOperationException>(() => app.StartAsync());
        Assert.Equal(
            $"Cannot apply the row-level security of table public.drafts as role {RlsDatabase.AppRole}: must be owner of table drafts "
            + $"(its owner is {OwnedDatabase.OwnerRole}). Apply the policies as the owner: RlsPolicyManager.ApplyAsOwnerAsync with a data "
            + "source of the owner role in the migration step, or a host whose connection string is the owner's; an application role that "
            + "does not own the tables starts with ScaleOps:Rls:ApplyPoliciesOnStart = false.",
            failure.Message);
        Assert.Equal(PostgresErrorCodes.InsufficientPrivilege, Assert.IsType<PostgresException>(failure.InnerException).SqlState);
        Assert.Equal(0L, await ScaleOpsPoliciesAsync("drafts")); // nothing was applied
    }

    // Npgsql's own log events reuse some of the same ids.
    private static bool FromRls(FakeLogRecord record) => record.Category?.StartsWith("ScaleOps.Rls", StringComparison.Ordinal) == true;

    /// <summary>
    /// The RLS schema and seed data, created by a NOLOGIN owner role (through a migration login acting as it), without
    /// ScaleOps' schema and without any policy: the tests' hosts install and apply those.
    /// </summary>
    public sealed class OwnedDatabase : PostgresDatabase
    {
        public const string OwnerRole = "scaleops_rls_start_owner";
        public const string MigrationRole = "scaleops_rls_start_migrator";

        /// <summary>The migration login, acting as the owner role for the whole session (NOLOGIN roles cannot connect).</summary>
        public string OwnerConnectionString => OwnerRoles.ConnectionString(ConnectionString, OwnerRole, MigrationRole);

        public override async Task InitializeAsync()
        {
            await base.InitializeAsync();
            await OwnerRoles.CreateAsync(Name, OwnerRole, MigrationRole);
            await using var owner = NpgsqlDataSource.Create(OwnerConnectionString);
            await using var schema = owner.CreateCommand(RlsDatabase.SchemaSql
                + "CREATE TABLE drafts (id bigint PRIMARY KEY, tenant_id text NOT NULL, body text NOT NULL);"
                + "CREATE INDEX drafts_tenant ON drafts (tenant_id);"
                + $"GRANT SELECT, INSERT, UPDATE, DELETE ON drafts TO {RlsDatabase.AppRole};");
            await schema.ExecuteNonQueryAsync();
        }
    }
}
