using System;
using System.Linq;
using System.Threading.Tasks;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;
using Npgsql;
using ScaleOps.Migrations;
using ScaleOps.Rls.Tests.Support;
using ScaleOps.Tenancy;
using ScaleOps.TestInfrastructure;

namespace ScaleOps.Rls.Tests.Safety;

/// <summary>
/// The README's production setup, end to end: a NOLOGIN owner role (reached by a migration login that is a member of
/// it) runs the migrations, creates the tables and applies the policies with <c>ApplyAsOwnerAsync</c>; the application
/// role holds only SELECT, INSERT, UPDATE, DELETE, starts with ApplyPoliciesOnStart = false and is isolated through
/// every API.
/// </summary>
public class ProductionSetupTests(ProductionSetupTests.MigratedDatabase database) : IClassFixture<ProductionSetupTests.MigratedDatabase>
{
    private const string OwnerRole = MigratedDatabase.OwnerRole;
    private const string MigrationRole = MigratedDatabase.MigrationRole;

    private string AppConnectionString => new NpgsqlConnectionStringBuilder(database.ConnectionString) { Username = RlsDatabase.AppRole }.ToString();

    private static IHost BuildHost(string connectionString) => RlsHosts.Checked(connectionString);

    private static async Task<string[]> StartWarningsAsync(string connectionString)
    {
        using var host = BuildHost(connectionString);
        await host.StartAsync();
        await host.StopAsync();
        return [.. host.Services.GetFakeLogCollector().GetSnapshot().Where(r => r.Level >= LogLevel.Warning).Select(r => r.Message)];
    }

    [Fact]
    public async Task A_separate_owner_role_applies_the_policies_and_the_application_role_starts_clean_and_is_isolated_through_every_API()
    {
        await using (var check = database.DataSource.CreateCommand(
            "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public' AND c.relkind = 'r' "
            + $"AND pg_get_userbyid(c.relowner) <> '{OwnerRole}'"))
        {
            Assert.Equal(0L, await check.ExecuteScalarAsync()); // every table belongs to the owner role
        }

        Assert.Empty(await StartWarningsAsync(AppConnectionString));

        await using var services = RlsDatabase.Services(AppConnectionString);
        var apis = new RlsApis(services);
        foreach (var api in new[] { Api.Batch, Api.ReadOnlyBatch, Api.Transaction, Api.Dapper, Api.EfCore })
        {
            using var scope = apis.Tenants.BeginScope(new TenantId("t07"));
            Assert.Equal(Enumerable.Repeat("t07", 7), await apis.ReadTenantsAsync(api));
            var insert = await Assert.ThrowsAnyAsync<Exception>(() =>
                apis.ExecuteAsync(api, "INSERT INTO documents (tenant_id, title) VALUES (@a, 'planted')", new { a = "t02" }));
            Assert.Equal(PostgresErrorCodes.InsufficientPrivilege, OwnerRoles.FindPostgres(insert).SqlState);

            // What the owner role keeps from the application: TRUNCATE, which ignores row security.
            var truncate = await Assert.ThrowsAnyAsync<Exception>(() => apis.ExecuteAsync(api, "TRUNCATE documents"));
            Assert.Contains("permission denied for table documents", OwnerRoles.FindPostgres(truncate).MessageText, StringComparison.Ordinal);
        }

        using (apis.Tenants.BeginScope(new TenantId("t02")))
        {
            Assert.Equal(2, (await apis.ReadTenantsAsync(Api.Batch)).Count);
        }
    }

    [Fact]
    public async Task The_migration_login_as_the_application_role_or_a_TRUNCATE_grant_is_warned_about()
    {

        // The migration login connecting as the application: a member of the owner role, so it may TRUNCATE every
        // tenant's rows and disable row security.
        var asMember = new NpgsqlConnectionStringBuilder(database.ConnectionString) { Username = MigrationRole }.ToString();
        var warnings = await StartWarningsAsync(asMember);
        Assert.Contains(warnings, w => w.Contains($"the application role {MigrationRole} owns (or is a member of the role that owns) table documents",
            StringComparison.Ordinal));

        await PostgresServer.ExecuteAsync($"GRANT TRUNCATE ON documents TO {RlsDatabase.AppRole}", database.Name);
        try
        {
            warnings = await StartWarningsAsync(AppConnectionString);
            Assert.Equal(
                [$"RLS safety check: the application role {RlsDatabase.AppRole} has the TRUNCATE privilege on table documents"],
                warnings.Select(w => w[..w.IndexOf(':', 20)]));
        }
        finally
        {
            await PostgresServer.ExecuteAsync($"REVOKE TRUNCATE ON documents FROM {RlsDatabase.AppRole}", database.Name);
        }
    }

    /// <summary>An empty database migrated once by the owner role, as the README's migration step would.</summary>
    public sealed class MigratedDatabase : PostgresDatabase
    {
        public const string OwnerRole = "scaleops_rls_prod_owner";
        public const string MigrationRole = "scaleops_rls_prod_migrator";

        // The migration login, acting as the owner role for the whole session (NOLOGIN roles cannot connect themselves).
        private string OwnerConnectionString => OwnerRoles.ConnectionString(ConnectionString, OwnerRole, MigrationRole);

        public override async Task InitializeAsync()
        {
            await base.InitializeAsync();
            await OwnerRoles.CreateAsync(Name, OwnerRole, MigrationRole);

            // The migration step: ScaleOps' migrations (the context procedure), the application's tables with the README's
            // grants, then the policies, all as the owner.
            await using var migration = RlsDatabase.Services(OwnerConnectionString);
            await migration.GetRequiredService<IScaleOpsMigrator>().MigrateAsync();
            await using var owner = NpgsqlDataSource.Create(OwnerConnectionString);
            await using (var schema = owner.CreateCommand(RlsDatabase.SchemaSql))
            {
                await schema.ExecuteNonQueryAsync();
            }

            var report = await migration.GetRequiredService<RlsPolicyManager>().ApplyAsOwnerAsync(owner);
            Assert.NotEmpty(report.Changes);
        }
    }
}
