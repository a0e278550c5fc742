using System.Threading.Tasks;
using ScaleOps.Rls.Tests.Support;
using ScaleOps.TestInfrastructure;

namespace ScaleOps.Rls.Tests;

/// <summary>
/// Tables declared with <c>TenantColumn = null</c>: shared by all tenants. The kind's condition alone decides, so a
/// user-owned table matches the user id in every tenant, an authenticated-read table shows every row to any tenant's
/// user, and a role-only table every row to the role's holders in any tenant; with no user or role, nothing.
/// </summary>
public class SharedTableTests(RlsDatabase database) : IClassFixture<RlsDatabase>
{
    [Fact]
    public async Task Without_a_tenant_column_the_kinds_condition_alone_decides_across_tenants()
    {
        await PostgresServer.ExecuteAsync("""
            CREATE TABLE shared_notes (user_id text NOT NULL, body text NOT NULL);
            CREATE TABLE shared_news (body text NOT NULL);
            CREATE TABLE shared_audit (entry text NOT NULL);
            INSERT INTO shared_notes VALUES ('alice', 'alice, written in t01'), ('bob', 'bob, written in t01');
            INSERT INTO shared_news VALUES ('news');
            INSERT INTO shared_audit VALUES ('entry');
            GRANT SELECT ON shared_notes, shared_news, shared_audit TO scaleops_rls_app;
            """, database.Name);
        RlsTable[] tables =
        [
            new("public", "shared_notes", RlsTableKind.UserOwned) { TenantColumn = null },
            new("public", "shared_news", RlsTableKind.AuthenticatedRead) { TenantColumn = null },
            new("public", "shared_audit", RlsTableKind.RoleOnly) { TenantColumn = null, Role = "auditor" },
        ];
        await RlsChecks.Manager(database, tables).ApplyAsync();
        Assert.Empty((await RlsChecks.SafetyAsync(database, tables)).Errors);

        // A user id is one user in every tenant: alice of t02 reads what alice wrote in t01.
        Assert.Equal(["alice, written in t01"], await RlsChecks.ReadAsAsync(database, "SELECT body FROM shared_notes", "t02", "alice"));
        Assert.Equal(["bob, written in t01"], await RlsChecks.ReadAsAsync(database, "SELECT body FROM shared_notes", "t01", "bob"));
        Assert.Empty(await RlsChecks.ReadAsAsync(database, "SELECT body FROM shared_notes", "t01"));

        Assert.Equal(["news"], await RlsChecks.ReadAsAsync(database, "SELECT body FROM shared_news", "t02", "carol"));
        Assert.Empty(await RlsChecks.ReadAsAsync(database, "SELECT body FROM shared_news", "t02"));

        Assert.Equal(["entry"], await RlsChecks.ReadAsAsync(database, "SELECT entry FROM shared_audit", "t02", "dave", "auditor"));
        Assert.Empty(await RlsChecks.ReadAsAsync(database, "SELECT entry FROM shared_audit", "t02", "dave", "editor"));
    }
}
