using System;
using System.IO;
using System.Linq;
using System.Security.Cryptography;
using System.Text;
using System.Threading.Tasks;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging.Testing;
using Npgsql;
using ScaleOps.Rls.Safety;
using ScaleOps.Rls.Tests.Support;
using ScaleOps.TestInfrastructure;

namespace ScaleOps.Rls.Tests.Safety;

/// <summary>
/// A database as the first release of ScaleOps.Rls left it, with rows in place: migration rls/0001 only, and policies
/// whose comment holds the statement's hash alone (no fingerprint), the uuid one without the canonical-spelling check.
/// The upgraded host applies rls/0002, refuses to start on the old policies unless it applies them, and replaces them.
/// </summary>
public class UpgradeInPlaceTests(RlsDatabase database) : IClassFixture<RlsDatabase>
{
    private static string Checksum(string resource)
    {
        using var stream = typeof(RlsOptions).Assembly.GetManifestResourceStream("ScaleOps.Rls.Sql.Migrations." + resource)!;
        var sql = new StreamReader(stream, Encoding.UTF8).ReadToEnd().Replace("\r\n", "\n", StringComparison.Ordinal);
        return Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(sql)));
    }

    // What the first release created: the statement of the day, commented with its hash only.
    private static string OldPolicy(string table, string type)
    {
        var condition = $"\"tenant_id\" = nullif(pg_catalog.current_setting('app.tenant_id', true), '')::{type}";
        var create = $"CREATE POLICY \"scaleops_tenant\" ON \"public\".\"{table}\" AS PERMISSIVE FOR ALL TO PUBLIC USING ({condition}) WITH CHECK ({condition})";
        var hash = "scaleops:" + Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(create)))[..16];
        return $"DROP POLICY scaleops_tenant ON {table}; {create}; COMMENT ON POLICY scaleops_tenant ON {table} IS '{hash}';";
    }

    private IHost Host(bool applyPolicies)
    {
        var builder = Microsoft.Extensions.Hosting.Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Services.AddFakeLogging();
        builder.Services.AddScaleOps(o => o.ConnectionString = database.ConnectionString).AddRls(o =>
        {
            o.Tables.Add(new RlsTable("public", "documents"));
            o.Tables.Add(new RlsTable("public", "accounts"));
            o.ApplyPoliciesOnStart = applyPolicies;
            o.AllowBypassRlsRole = true; // the owner's (migration) host
        });
        return builder.Build();
    }

    [Fact]
    public async Task A_database_left_by_the_first_release_is_migrated_and_its_policies_replaced_with_the_rows_in_place()
    {
        await PostgresServer.ExecuteAsync(
            """
            CREATE TABLE scaleops.schema_migrations (component text NOT NULL, version integer NOT NULL, name text NOT NULL,
                checksum text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (component, version));
            """
            + $"INSERT INTO scaleops.schema_migrations (component, version, name, checksum) VALUES ('rls', 1, 'tenant_context', '{Checksum("0001_tenant_context.sql")}');"
            + OldPolicy("documents", "text") + OldPolicy("accounts", "uuid"), database.Name);

        // Without applying the policies, the upgraded host refuses them, naming each and the cause.
        using (var checkOnly = Host(applyPolicies: false))
        {
            var ex = await Assert.ThrowsAsync<RlsSafetyException>(() => checkOnly.StartAsync());
            foreach (var table in new[] { "documents", "accounts" })
            {
                Assert.Contains(ex.Problems, p => p.StartsWith($"policy scaleops_tenant on table {table} is not the one ScaleOps declares", StringComparison.Ordinal)
                    && p.Contains("an earlier version of ScaleOps", StringComparison.Ordinal));
            }
        }

        await using (var migrations = database.DataSource.CreateCommand("SELECT string_agg(component || '/' || version, ',' ORDER BY version) FROM scaleops.schema_migrations"))
        {
            Assert.Equal("rls/1,rls/2", await migrations.ExecuteScalarAsync()); // 0002 applied on top of 0001, once
        }

        using (var upgrade = Host(applyPolicies: true))
        {
            await upgrade.StartAsync();
            var changes = upgrade.Services.GetFakeLogCollector().GetSnapshot().Where(r => r.Id.Id == 2001 && r.Category?.StartsWith("ScaleOps.Rls", StringComparison.Ordinal) == true).Select(r => r.Message).ToList();
            Assert.Equal(["RLS: accounts: replaced policy scaleops_tenant", "RLS: documents: replaced policy scaleops_tenant"], changes.Order(StringComparer.Ordinal));
            await upgrade.StopAsync();
        }

        // The rows were never touched; each tenant still reads its own, and a non-canonical uuid spelling is refused now.
        Assert.Equal(["doc 1", "doc 2", "doc 3"], (await RlsChecks.ReadAsAsync(database, "SELECT title FROM documents", "t03")).Order(StringComparer.Ordinal));
        Assert.Equal(["b1"], await RlsChecks.ReadAsAsync(database, "SELECT name FROM accounts", RlsDatabase.AccountTenantB.ToString()));
        var upper = await Assert.ThrowsAsync<PostgresException>(() => RlsChecks.ReadAsAsync(database, "SELECT name FROM accounts", RlsDatabase.AccountTenantB.ToString().ToUpperInvariant()));
        Assert.Equal(PostgresErrorCodes.InvalidTextRepresentation, upper.SqlState);
    }
}
