using System;
using System.Linq;
using System.Threading.Tasks;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Npgsql;
using ScaleOps.Rls.Tests.Support;
using ScaleOps.Tenancy;
using ScaleOps.TestInfrastructure;

namespace ScaleOps.Rls.Tests;

public class RlsPolicyManagerTests(RlsDatabase database) : IClassFixture<RlsDatabase>
{
    private RlsPolicyManager Manager(params RlsTable[] tables)
    {
        var options = new RlsOptions();
        foreach (var table in tables)
        {
            options.Tables.Add(table);
        }

        return new RlsPolicyManager(database.DataSource, Options.Create(options), NullLogger<RlsPolicyManager>.Instance);
    }

    [Fact]
    public async Task Applying_is_idempotent_and_reports_every_change()
    {
        await PostgresServer.ExecuteAsync(
            "CREATE TABLE invoices (id int PRIMARY KEY, tenant_id bigint NOT NULL, amount int); CREATE INDEX ON invoices (tenant_id);"
            + "GRANT SELECT, INSERT ON invoices TO scaleops_rls_app", database.Name);
        var table = new RlsTable("public", "invoices");

        var first = await Manager(table).ApplyAsync();
        Assert.Equal(
        [
            "invoices: enabled row level security",
            "invoices: forced row level security (applies to the owner too)",
            "invoices: created policy scaleops_tenant",
        ], first.Changes);

        var second = await Manager(table).ApplyAsync();
        Assert.False(second.Changed);

        var withRole = new RlsTable("public", "invoices") { ExtraRoles = ["billing"] };
        Assert.Equal(["invoices: created policy scaleops_extra_roles"], (await Manager(withRole).ApplyAsync()).Changes);
        Assert.Equal(["invoices: dropped policy scaleops_extra_roles (no longer declared)"], (await Manager(table).ApplyAsync()).Changes);

        // Someone edits our policy by hand: the next apply puts it back.
        await PostgresServer.ExecuteAsync("COMMENT ON POLICY scaleops_tenant ON invoices IS 'edited'", database.Name);
        Assert.Equal(["invoices: replaced policy scaleops_tenant"], (await Manager(table).ApplyAsync()).Changes);
        Assert.Empty(await SafetyErrorsAsync(table));

        // Someone widens it: ALTER POLICY keeps the comment, so only the definition itself tells. The start-up check
        // refuses it, naming the table and the policy, and the next apply recreates it.
        await PostgresServer.ExecuteAsync("ALTER POLICY scaleops_tenant ON invoices USING (true)", database.Name);
        var altered = Assert.Single(await SafetyErrorsAsync(table));
        Assert.StartsWith("policy scaleops_tenant on table invoices was altered after ScaleOps created it", altered, StringComparison.Ordinal);
        Assert.Equal(["invoices: recreated policy scaleops_tenant (altered since ScaleOps created it)"], (await Manager(table).ApplyAsync()).Changes);
        Assert.Empty(await SafetyErrorsAsync(table));

        // Or adds a permissive policy under the package's prefix, which the foreign-policy warning does not look at.
        await PostgresServer.ExecuteAsync("CREATE POLICY scaleops_backdoor ON invoices USING (true)", database.Name);
        var foreign = Assert.Single(await SafetyErrorsAsync(table));
        Assert.StartsWith("table invoices has the policy scaleops_backdoor, which ScaleOps does not declare for it", foreign, StringComparison.Ordinal);
        Assert.Equal(["invoices: dropped policy scaleops_backdoor (no longer declared)"], (await Manager(table).ApplyAsync()).Changes);
        Assert.Empty(await SafetyErrorsAsync(table));

        await using var command = database.DataSource.CreateCommand(
            "SELECT pg_get_expr(polqual, polrelid), pg_get_expr(polwithcheck, polrelid) FROM pg_policy WHERE polname = 'scaleops_tenant' AND polrelid = 'invoices'::regclass");
        await using var reader = await command.ExecuteReaderAsync();
        Assert.True(await reader.ReadAsync());
        var qual = System.Text.RegularExpressions.Regex.Replace(reader.GetString(0), @"\s+", " ");
        Assert.StartsWith("(tenant_id = CASE WHEN (((NULLIF(current_setting('app.tenant_id'::text, true), ''::text))::bigint)::text IS DISTINCT FROM", qual, StringComparison.Ordinal);
        Assert.EndsWith("ELSE (NULLIF(current_setting('app.tenant_id'::text, true), ''::text))::bigint END)", qual, StringComparison.Ordinal);
        Assert.Equal(reader.GetString(0), reader.GetString(1));
    }

    [Fact]
    public async Task Renaming_a_declared_table_or_its_tenant_column_with_rows_in_place_is_caught_and_reapplied()
    {
        await PostgresServer.ExecuteAsync(
            "CREATE TABLE renamed_ledger (id int PRIMARY KEY, tenant_id text NOT NULL, amount int); CREATE INDEX ON renamed_ledger (tenant_id);"
            + "INSERT INTO renamed_ledger VALUES (1, 't01', 10), (2, 't02', 20); GRANT SELECT ON renamed_ledger TO scaleops_rls_app", database.Name);
        await Manager(new RlsTable("public", "renamed_ledger")).ApplyAsync();

        // The column is renamed: PostgreSQL rewrites the policy to the new name; the old declaration is refused, naming it.
        await PostgresServer.ExecuteAsync("ALTER TABLE renamed_ledger RENAME COLUMN tenant_id TO org_id", database.Name);
        var stale = await Assert.ThrowsAsync<InvalidOperationException>(() => Manager(new RlsTable("public", "renamed_ledger")).ApplyAsync());
        Assert.Equal("RLS table renamed_ledger has no column tenant_id (its declared TenantColumn).", stale.Message);
        Assert.Contains("table renamed_ledger has no column tenant_id (its declared TenantColumn).", await SafetyErrorsAsync(new RlsTable("public", "renamed_ledger")));
        var renamedColumn = new RlsTable("public", "renamed_ledger") { TenantColumn = "org_id" };
        Assert.Contains(await SafetyErrorsAsync(renamedColumn), e => e.StartsWith("policy scaleops_tenant on table renamed_ledger is not the one ScaleOps declares", StringComparison.Ordinal));
        Assert.Equal(["renamed_ledger: replaced policy scaleops_tenant"], (await Manager(renamedColumn).ApplyAsync()).Changes);
        Assert.Empty(await SafetyErrorsAsync(renamedColumn));

        // Then the table: the old name is gone (named), the new one gets its policy re-applied; the rows stay isolated.
        await PostgresServer.ExecuteAsync("ALTER TABLE renamed_ledger RENAME TO renamed_entries", database.Name);
        Assert.Contains("declared table public.renamed_ledger does not exist.", await SafetyErrorsAsync(renamedColumn));
        var renamedTable = new RlsTable("public", "renamed_entries") { TenantColumn = "org_id" };
        Assert.Equal(["renamed_entries: replaced policy scaleops_tenant"], (await Manager(renamedTable).ApplyAsync()).Changes);
        Assert.False((await Manager(renamedTable).ApplyAsync()).Changed);
        Assert.Empty(await SafetyErrorsAsync(renamedTable));
        Assert.Equal(["20"], await ReadAsAsync("t02", "SELECT amount::text FROM renamed_entries"));
    }

    /// <summary>The start-up check's errors for <paramref name="table"/> (run as the admin role, which is allowed here).</summary>
    private async Task<System.Collections.Generic.List<string>> SafetyErrorsAsync(RlsTable table)
    {
        var options = new RlsOptions { AllowBypassRlsRole = true };
        options.Tables.Add(table);
        var (errors, _) = await ScaleOps.Rls.Internal.SafetyChecks.RunAsync(database.DataSource, options, "scaleops", NullLogger.Instance, default);
        return errors;
    }

    /// <summary>The rows of <paramref name="sql"/> (first column, text, sorted) as the application role in a scope.</summary>
    private static async Task<string[]> ReadAsync(RlsApis apis, string sql, string tenant, string? user = null, params string[] roles)
    {
        using var scope = apis.Tenants.BeginScope(new TenantId(tenant), user, roles);
        await using var connection = await apis.Data.OpenConnectionAsync();
        await using var batch = connection.CreateBatch(sql);
        await using var reader = await batch.ExecuteReaderAsync();
        var rows = new System.Collections.Generic.List<string>();
        while (await reader.ReadAsync())
        {
            rows.Add(reader.GetString(0));
        }

        return [.. rows.Order(StringComparer.Ordinal)];
    }

    /// <summary>The rows of <paramref name="sql"/> as the application role for <paramref name="tenant"/>.</summary>
    private async Task<string[]> ReadAsAsync(string tenant, string sql)
    {
        await using var services = RlsDatabase.Services(database.AppConnectionString());
        return await ReadAsync(new RlsApis(services), sql, tenant);
    }

    [Fact]
    public async Task A_tenant_id_longer_than_a_varchar_tenant_column_matches_no_row()
    {
        // A cast to varchar(8) or char(8) truncates silently: a policy casting the setting to the column's declared
        // type would let 'acme-inc-evil' read and write the rows of 'acme-inc'.
        await PostgresServer.ExecuteAsync(
            "CREATE TABLE short_ids (tenant_id varchar(8) NOT NULL, fixed char(8) NOT NULL, body text NOT NULL); CREATE INDEX ON short_ids (tenant_id);"
            + "CREATE TABLE fixed_ids (tenant_id char(8) NOT NULL, body text NOT NULL); CREATE INDEX ON fixed_ids (tenant_id);"
            + "INSERT INTO short_ids VALUES ('acme-inc', 'acme-inc', 'secret of acme-inc'); INSERT INTO fixed_ids VALUES ('acme-inc', 'fixed secret');"
            + "GRANT SELECT, INSERT ON short_ids, fixed_ids TO scaleops_rls_app", database.Name);
        await Manager(new RlsTable("public", "short_ids"), new RlsTable("public", "fixed_ids")).ApplyAsync();

        Assert.Equal(["secret of acme-inc"], await ReadAsAsync("acme-inc", "SELECT body FROM short_ids"));
        Assert.Equal(["fixed secret"], await ReadAsAsync("acme-inc", "SELECT body FROM fixed_ids"));
        Assert.Empty(await ReadAsAsync("acme-inc-evil", "SELECT body FROM short_ids"));
        Assert.Empty(await ReadAsAsync("acme-inc-evil", "SELECT body FROM fixed_ids"));
    }

    [Fact]
    public async Task Tenant_ids_that_spell_one_uuid_or_integer_differently_are_refused_not_merged()
    {
        // '007' and '7' (or an upper-case uuid) are two tenants to TenantId, placements and caches, but one value to a
        // bigint (uuid) column: without the check either could read and write the other's rows.
        await PostgresServer.ExecuteAsync(
            "CREATE TABLE numbered (tenant_id bigint NOT NULL, body text NOT NULL); CREATE INDEX ON numbered (tenant_id);"
            + "INSERT INTO numbered VALUES (7, 'of 7'); GRANT SELECT, INSERT ON numbered TO scaleops_rls_app", database.Name);
        await Manager(new RlsTable("public", "numbered")).ApplyAsync();
        await using var services = RlsDatabase.Services(database.AppConnectionString());
        var apis = new RlsApis(services);

        Assert.Equal(["of 7"], await ReadAsync(apis, "SELECT body FROM numbered", "7"));
        foreach (var spelling in new[] { "007", "+7", "07" })
        {
            var read = await Assert.ThrowsAsync<PostgresException>(() => ReadAsync(apis, "SELECT body FROM numbered", spelling));
            Assert.Equal(PostgresErrorCodes.InvalidTextRepresentation, read.SqlState);
            Assert.Contains($"app.tenant_id '{spelling}' is not in the canonical form of the column type ('7')", read.MessageText, StringComparison.Ordinal);
            using var scope = apis.Tenants.BeginScope(new TenantId(spelling));
            var write = await Assert.ThrowsAsync<PostgresException>(() => apis.ExecuteAsync(Api.Batch, "INSERT INTO numbered VALUES (7, 'planted')"));
            Assert.Equal(PostgresErrorCodes.InvalidTextRepresentation, write.SqlState);
        }

        var canonical = RlsDatabase.AccountTenantA.ToString();
        Assert.Equal(["a1", "a2"], await ReadAsync(apis, "SELECT name FROM accounts", canonical));
        foreach (var spelling in new[] { canonical.ToUpperInvariant(), "{" + canonical + "}", canonical.Replace("-", "", StringComparison.Ordinal) })
        {
            var read = await Assert.ThrowsAsync<PostgresException>(() => ReadAsync(apis, "SELECT name FROM accounts", spelling));
            Assert.Contains($"is not in the canonical form of the column type ('{canonical}')", read.MessageText, StringComparison.Ordinal);
        }

        // Text columns keep every spelling apart, so they are not checked.
        Assert.Empty(await ReadAsync(apis, "SELECT title FROM documents", "T01"));
    }

    [Theory]
    [InlineData("citext", "CREATE EXTENSION IF NOT EXISTS citext")]
    [InlineData("text COLLATE ci_und",
        "DO $$ BEGIN CREATE COLLATION ci_und (provider = icu, locale = 'und-u-ks-level2', deterministic = false); EXCEPTION WHEN duplicate_object THEN NULL; END $$")]
    public async Task A_tenant_column_that_compares_case_insensitively_is_refused(string type, string setup)
    {
        // TenantId is case-sensitive: 'ACME' and 'acme' are two tenants, but such a column would let one read the other's rows.
        var name = "ci_" + Math.Abs(type.GetHashCode(StringComparison.Ordinal)).ToString(System.Globalization.CultureInfo.InvariantCulture);
        await PostgresServer.ExecuteAsync($"{setup}; CREATE TABLE {name} (tenant_id {type} NOT NULL, body text NOT NULL); CREATE INDEX ON {name} (tenant_id)", database.Name);
        var refused = await Assert.ThrowsAsync<InvalidOperationException>(() => Manager(new RlsTable("public", name)).ApplyAsync());
        Assert.Contains($"tenant column tenant_id compares case-insensitively", refused.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_partitions_of_a_declared_partitioned_table_get_the_same_security()
    {
        // The parent's policies apply only to queries through the parent: a partition queried by its own name (as
        // PruningBounds.Partitions recommends) uses its own settings, so each partition needs RLS, FORCE and the policy.
        await PostgresServer.ExecuteAsync(
            "CREATE TABLE events (tenant_id text NOT NULL, at timestamptz NOT NULL, body text NOT NULL) PARTITION BY RANGE (at);"
            + "CREATE INDEX ON events (tenant_id, at);"
            + "CREATE TABLE events_2026 PARTITION OF events FOR VALUES FROM ('2026-01-01') TO ('2027-01-01') PARTITION BY RANGE (at);"
            + "CREATE TABLE events_2026_h2 PARTITION OF events_2026 FOR VALUES FROM ('2026-07-01') TO ('2027-01-01');"
            + "CREATE TABLE events_2026_h1 PARTITION OF events_2026 FOR VALUES FROM ('2026-01-01') TO ('2026-07-01');"
            + "INSERT INTO events VALUES ('t01', '2026-08-01', 'of t01'), ('t02', '2026-08-02', 'of t02'), ('t02', '2026-02-02', 'old of t02');"
            + "GRANT SELECT, INSERT ON events, events_2026, events_2026_h1, events_2026_h2 TO scaleops_rls_app", database.Name);
        var table = new RlsTable("public", "events");

        var report = await Manager(table).ApplyAsync();
        foreach (var partition in new[] { "events_2026", "events_2026_h1", "events_2026_h2" })
        {
            Assert.Contains($"{partition}: enabled row level security", report.Changes);
            Assert.Contains($"{partition}: forced row level security (applies to the owner too)", report.Changes);
            Assert.Contains($"{partition}: created policy scaleops_tenant", report.Changes);
        }

        Assert.False((await Manager(table).ApplyAsync()).Changed);
        Assert.Equal(["of t01"], await ReadAsAsync("t01", "SELECT body FROM events_2026_h2"));
        Assert.Equal(["of t01"], await ReadAsAsync("t01", "SELECT body FROM events_2026"));
        Assert.Empty(await ReadAsAsync("t01", "SELECT body FROM events_2026_h1"));
        Assert.Equal(["of t02", "old of t02"], await ReadAsAsync("t02", "SELECT body FROM events_2026"));
    }

    [Fact]
    public async Task A_partition_with_a_copy_of_its_parent_s_policy_passes_the_check_and_an_altered_one_does_not()
    {
        await PostgresServer.ExecuteAsync(
            "CREATE TABLE ledger (tenant_id uuid NOT NULL, at date NOT NULL) PARTITION BY RANGE (at); CREATE INDEX ON ledger (tenant_id);"
            + "CREATE TABLE ledger_2026 PARTITION OF ledger FOR VALUES FROM ('2026-01-01') TO ('2027-01-01');", database.Name);
        var table = new RlsTable("public", "ledger");
        await Manager(table).ApplyAsync();
        Assert.Empty(await SafetyErrorsAsync(table));

        // A partition created later gets an uncommented copy of the parent's policy, as ScaleOps.Partitioning makes it.
        await PostgresServer.ExecuteAsync("""
            CREATE TABLE ledger_2027 PARTITION OF ledger FOR VALUES FROM ('2027-01-01') TO ('2028-01-01');
            ALTER TABLE ledger_2027 ENABLE ROW LEVEL SECURITY; ALTER TABLE ledger_2027 FORCE ROW LEVEL SECURITY;
            DO $$ BEGIN EXECUTE (SELECT format('CREATE POLICY %I ON ledger_2027 AS PERMISSIVE FOR ALL TO PUBLIC USING (%s) WITH CHECK (%s)',
                polname, pg_get_expr(polqual, polrelid), pg_get_expr(polwithcheck, polrelid))
                FROM pg_policy WHERE polrelid = 'ledger'::regclass AND polname = 'scaleops_tenant'); END $$;
            """, database.Name);
        Assert.Empty(await SafetyErrorsAsync(table));

        await PostgresServer.ExecuteAsync("ALTER POLICY scaleops_tenant ON ledger_2027 USING (true)", database.Name);
        Assert.StartsWith("policy scaleops_tenant on table ledger_2027 is not the one ScaleOps declares", Assert.Single(await SafetyErrorsAsync(table)), StringComparison.Ordinal);
        Assert.Equal(["ledger_2027: replaced policy scaleops_tenant"], (await Manager(table).ApplyAsync()).Changes);
        Assert.Empty(await SafetyErrorsAsync(table));
    }

    [Fact]
    public async Task The_policy_is_an_index_condition_not_a_filter_or_sub_plan()
    {
        await using var app = NpgsqlDataSource.Create(database.AppConnectionString());
        await using var connection = await app.OpenConnectionAsync();
        await using var tx = await connection.BeginTransactionAsync();
        await using var command = new NpgsqlCommand(
            "SET LOCAL enable_seqscan = off; SELECT set_config('app.tenant_id', 't07', true); "
            + "EXPLAIN (COSTS OFF) SELECT * FROM documents ORDER BY created_at DESC LIMIT 5", connection, tx);
        await using var reader = await command.ExecuteReaderAsync();
        await reader.NextResultAsync();
        var plan = "";
        while (await reader.ReadAsync())
        {
            plan += reader.GetString(0) + "\n";
        }

        Assert.Contains("Index Cond: (tenant_id = NULLIF(current_setting('app.tenant_id'::text, true), ''::text))", plan, StringComparison.Ordinal);
        Assert.DoesNotContain("Filter", plan, StringComparison.Ordinal);
        Assert.DoesNotContain("SubPlan", plan, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_missing_table_or_column_is_named()
    {
        var missing = await Assert.ThrowsAsync<InvalidOperationException>(() => Manager(new RlsTable("public", "nope")).ApplyAsync());
        Assert.Contains("RLS table public.nope does not exist", missing.Message, StringComparison.Ordinal);
        var column = await Assert.ThrowsAsync<InvalidOperationException>(() =>
            Manager(new RlsTable("public", "documents") { TenantColumn = "org_id" }).ApplyAsync());
        Assert.Contains("documents has no column org_id", column.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task User_owned_authenticated_and_role_only_tables_follow_their_rules()
    {
        await using var services = RlsDatabase.Services(database.AppConnectionString());
        var apis = new RlsApis(services);

        Task<string[]> Read(string sql, string tenant, string? user = null, params string[] roles) => ReadAsync(apis, sql, tenant, user, roles);

        // User-owned: own rows in own tenant; the extra role "admin" sees the tenant's rows.
        Assert.Equal(["alice 1", "alice 2"], await Read("SELECT body FROM notes", "t01", "alice"));
        Assert.Equal(["bob 1"], await Read("SELECT body FROM notes", "t01", "bob"));
        Assert.Empty(await Read("SELECT body FROM notes", "t01"));
        Assert.Equal(["alice 1", "alice 2", "bob 1"], await Read("SELECT body FROM notes", "t01", "carol", "admin"));

        // Authenticated read: any user of the tenant, nobody without a user; writes need the extra role.
        Assert.Equal(["hello t01", "second"], await Read("SELECT body FROM announcements", "t01", "anyone"));
        Assert.Empty(await Read("SELECT body FROM announcements", "t01"));
        using (apis.Tenants.BeginScope(new TenantId("t01"), "anyone"))
        {
            var denied = await Assert.ThrowsAsync<PostgresException>(() =>
                apis.ExecuteAsync(Api.Batch, "INSERT INTO announcements (tenant_id, body) VALUES ('t01', 'spam')"));
            Assert.Equal(PostgresErrorCodes.InsufficientPrivilege, denied.SqlState);
        }

        using (apis.Tenants.BeginScope(new TenantId("t01"), "ed", ["editor"]))
        {
            Assert.Equal(1, await apis.ExecuteAsync(Api.Batch, "INSERT INTO announcements (tenant_id, body) VALUES ('t01', 'news')"));
        }

        // Role only: the auditor of the tenant, nobody else.
        Assert.Equal(["export", "login"], await Read("SELECT entry FROM audit_entries", "t01", "audrey", "auditor"));
        Assert.Empty(await Read("SELECT entry FROM audit_entries", "t01", "alice", "admin"));
        Assert.Equal(["login t02"], await Read("SELECT entry FROM audit_entries", "t02", "audrey", "reader", "auditor"));
    }
}
