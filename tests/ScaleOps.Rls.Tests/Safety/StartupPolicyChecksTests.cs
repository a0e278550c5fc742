using System;
using System.Linq;
using System.Threading.Tasks;
using ScaleOps.Rls.Safety;
using ScaleOps.Rls.Tests.Support;
using ScaleOps.TestInfrastructure;

namespace ScaleOps.Rls.Tests.Safety;

/// <summary>
/// Start-up checks on what surrounds a declared table: the declared policies themselves, its partitions' policies and
/// views, its inheritance children, and what the application role may do to it.
/// </summary>
public class StartupPolicyChecksTests(RlsDatabase database) : IClassFixture<RlsDatabase>
{
    [Fact]
    public async Task A_declared_policy_dropped_and_replaced_by_an_open_one_refuses_the_start()
    {
        await PostgresServer.ExecuteAsync(
            "CREATE TABLE swapped (tenant_id text NOT NULL, body text NOT NULL); CREATE INDEX ON swapped (tenant_id);"
            + "INSERT INTO swapped VALUES ('t01', 'of t01'), ('t02', 'of t02'); GRANT SELECT ON swapped TO scaleops_rls_app", database.Name);
        var table = new RlsTable("public", "swapped");
        await RlsChecks.Manager(database, table).ApplyAsync();
        Assert.Empty((await RlsChecks.SafetyAsync(database, table)).Errors);

        await PostgresServer.ExecuteAsync("DROP POLICY scaleops_tenant ON swapped; CREATE POLICY everyone ON swapped USING (true)", database.Name);
        Assert.Equal(["of t01", "of t02"], await RlsChecks.ReadAsAsync(database, "SELECT body FROM swapped", "t01")); // the leak it reports
        var (errors, _) = await RlsChecks.SafetyAsync(database, table);
        Assert.Contains(errors, e => e.StartsWith("table swapped lacks the policy scaleops_tenant that ScaleOps declares for it", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_declared_policy_missing_on_a_partition_refuses_the_start()
    {
        await PostgresServer.ExecuteAsync(
            "CREATE TABLE swapped_events (tenant_id text NOT NULL, at date NOT NULL) PARTITION BY RANGE (at); CREATE INDEX ON swapped_events (tenant_id, at);"
            + "CREATE TABLE swapped_events_2026 PARTITION OF swapped_events FOR VALUES FROM ('2026-01-01') TO ('2027-01-01');"
            + "GRANT SELECT ON swapped_events, swapped_events_2026 TO scaleops_rls_app", database.Name);
        var table = new RlsTable("public", "swapped_events");
        await RlsChecks.Manager(database, table).ApplyAsync();
        await PostgresServer.ExecuteAsync(
            "DROP POLICY scaleops_tenant ON swapped_events_2026; CREATE POLICY everyone ON swapped_events_2026 USING (true)", database.Name);

        var (errors, _) = await RlsChecks.SafetyAsync(database, table);
        Assert.Contains(errors, e => e.StartsWith("table swapped_events_2026 lacks the policy scaleops_tenant", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_permissive_policy_ScaleOps_does_not_manage_on_a_partition_is_reported_like_one_on_the_table()
    {
        await PostgresServer.ExecuteAsync(
            "CREATE TABLE pevents (tenant_id text NOT NULL, at date NOT NULL, body text NOT NULL) PARTITION BY RANGE (at);"
            + "CREATE INDEX ON pevents (tenant_id, at);"
            + "CREATE TABLE pevents_2026 PARTITION OF pevents FOR VALUES FROM ('2026-01-01') TO ('2027-01-01');"
            + "INSERT INTO pevents VALUES ('t01', '2026-03-01', 'of t01'), ('t02', '2026-03-02', 'of t02');"
            + "GRANT SELECT ON pevents, pevents_2026 TO scaleops_rls_app", database.Name);
        var table = new RlsTable("public", "pevents");
        await RlsChecks.Manager(database, table).ApplyAsync();
        var (errors, warnings) = await RlsChecks.SafetyAsync(database, table);
        Assert.Empty(errors);
        Assert.Empty(warnings);

        await PostgresServer.ExecuteAsync("CREATE POLICY read_all ON pevents_2026 FOR SELECT USING (true)", database.Name);
        Assert.Equal(["of t01", "of t02"], await RlsChecks.ReadAsAsync(database, "SELECT body FROM pevents_2026", "t01")); // the leak it reports
        (errors, warnings) = await RlsChecks.SafetyAsync(database, table);
        Assert.Empty(errors);
        var warning = Assert.Single(warnings);
        Assert.StartsWith("partition \"public\".\"pevents_2026\" of pevents has permissive policies that ScaleOps does not manage (read_all)", warning,
            StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_definer_view_over_a_partition_refuses_the_start()
    {
        await PostgresServer.ExecuteAsync(
            "CREATE TABLE vevents (tenant_id text NOT NULL, at date NOT NULL, body text NOT NULL) PARTITION BY RANGE (at);"
            + "CREATE INDEX ON vevents (tenant_id, at);"
            + "CREATE TABLE vevents_2026 PARTITION OF vevents FOR VALUES FROM ('2026-01-01') TO ('2027-01-01');"
            + "INSERT INTO vevents VALUES ('t01', '2026-03-01', 'of t01'), ('t02', '2026-03-02', 'of t02');"
            + "CREATE VIEW vevents_2026_all AS SELECT * FROM vevents_2026;" // owned by the superuser that runs this
            + "CREATE VIEW vevents_2026_invoker WITH (security_invoker = true) AS SELECT * FROM vevents_2026;"
            + "GRANT SELECT ON vevents, vevents_2026, vevents_2026_all, vevents_2026_invoker TO scaleops_rls_app", database.Name);
        var table = new RlsTable("public", "vevents");
        await RlsChecks.Manager(database, table).ApplyAsync();

        Assert.Equal(["of t01", "of t02"], await RlsChecks.ReadAsAsync(database, "SELECT body FROM vevents_2026_all", "t01")); // the leak it reports
        Assert.Equal(["of t01"], await RlsChecks.ReadAsAsync(database, "SELECT body FROM vevents_2026_invoker", "t01"));
        var (errors, _) = await RlsChecks.SafetyAsync(database, table);
        Assert.Equal(["view vevents_2026_all reads vevents_2026 with its owner's rights; recreate it WITH (security_invoker = true)."], errors);
    }

    [Fact]
    public async Task A_materialized_view_that_reads_a_declared_table_through_a_view_refuses_the_start_and_is_audited()
    {
        await PostgresServer.ExecuteAsync(
            "CREATE TABLE cached (tenant_id text NOT NULL, body text NOT NULL); CREATE INDEX ON cached (tenant_id);"
            + "INSERT INTO cached VALUES ('t01', 'of t01'), ('t02', 'of t02');", database.Name);
        var table = new RlsTable("public", "cached");
        await RlsChecks.Manager(database, table).ApplyAsync();
        await PostgresServer.ExecuteAsync(
            "CREATE VIEW cached_invoker WITH (security_invoker = true) AS SELECT * FROM cached;"
            + "CREATE VIEW cached_outer AS SELECT * FROM cached_invoker;" // a definer view, but over an invoker view
            + "CREATE MATERIALIZED VIEW cached_copy AS SELECT * FROM cached_invoker;" // filled by the superuser that runs this
            + "GRANT SELECT ON cached, cached_invoker, cached_outer, cached_copy TO scaleops_rls_app", database.Name);

        Assert.Equal(["of t01", "of t02"], await RlsChecks.ReadAsAsync(database, "SELECT body FROM cached_copy", "t01")); // the leak it reports
        // An invoker view's tables are checked as the caller even under a definer view: no leak there, nothing reported.
        Assert.Equal(["of t01"], await RlsChecks.ReadAsAsync(database, "SELECT body FROM cached_outer", "t01"));
        var (errors, _) = await RlsChecks.SafetyAsync(database, table);
        Assert.Equal(["materialized view cached_copy stores rows of cached for every tenant; drop it or keep it out of tenant reach."], errors);

        var report = await RlsSchemaAuditor.AuditAsync(database.DataSource, "public");
        Assert.Contains(report.LeakingViews, v => v.StartsWith("materialized view cached_copy stores rows of cached", StringComparison.Ordinal));
        Assert.DoesNotContain(report.LeakingViews, v => v.Contains("cached_outer", StringComparison.Ordinal));
    }

    [Fact]
    public async Task An_inheritance_child_of_a_declared_table_refuses_the_start_unless_declared_itself()
    {
        await PostgresServer.ExecuteAsync(
            "CREATE TABLE ledger_parent (tenant_id text NOT NULL, body text NOT NULL); CREATE INDEX ON ledger_parent (tenant_id);"
            + "CREATE TABLE ledger_child () INHERITS (ledger_parent); CREATE INDEX ON ledger_child (tenant_id);"
            + "CREATE TABLE ledger_grandchild () INHERITS (ledger_child); CREATE INDEX ON ledger_grandchild (tenant_id);"
            + "INSERT INTO ledger_child VALUES ('t01', 'of t01'), ('t02', 'of t02');"
            + "GRANT SELECT ON ledger_parent, ledger_child, ledger_grandchild TO scaleops_rls_app", database.Name);
        var parent = new RlsTable("public", "ledger_parent");
        await RlsChecks.Manager(database, parent).ApplyAsync();

        Assert.Equal(["of t01"], await RlsChecks.ReadAsAsync(database, "SELECT body FROM ledger_parent", "t01"));
        Assert.Equal(["of t01", "of t02"], await RlsChecks.ReadAsAsync(database, "SELECT body FROM ledger_child", "t01")); // the leak it reports
        var (errors, _) = await RlsChecks.SafetyAsync(database, parent);
        Assert.Contains(errors, e => e.StartsWith("table ledger_child inherits from the declared table ledger_parent (INHERITS) but is not declared", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.StartsWith("table ledger_grandchild inherits from the declared table ledger_parent", StringComparison.Ordinal));

        // Declared, the children are secured like any table.
        var tables = new[] { parent, new RlsTable("public", "ledger_child"), new RlsTable("public", "ledger_grandchild") };
        await RlsChecks.Manager(database, tables).ApplyAsync();
        Assert.Equal(["of t01"], await RlsChecks.ReadAsAsync(database, "SELECT body FROM ledger_child", "t01"));
        Assert.Empty((await RlsChecks.SafetyAsync(database, tables)).Errors);
    }

    [Fact]
    public async Task An_application_role_that_owns_a_declared_table_or_may_truncate_it_is_warned_about()
    {
        // TRUNCATE ignores row security: with the application role owning the table (ApplyPoliciesOnStart's setup), a
        // tenant batch's TRUNCATE empties every tenant's rows.
        await PostgresServer.ExecuteAsync(
            "CREATE TABLE owned_docs (tenant_id text NOT NULL, body text NOT NULL); CREATE INDEX ON owned_docs (tenant_id);"
            + "INSERT INTO owned_docs VALUES ('t01', 'of t01'), ('t02', 'of t02'); ALTER TABLE owned_docs OWNER TO scaleops_rls_app;"
            + "CREATE TABLE truncatable_docs (tenant_id text NOT NULL, body text NOT NULL); CREATE INDEX ON truncatable_docs (tenant_id);"
            + "GRANT SELECT, TRUNCATE ON truncatable_docs TO scaleops_rls_app", database.Name);
        var owned = new RlsTable("public", "owned_docs");
        var truncatable = new RlsTable("public", "truncatable_docs");
        await RlsChecks.Manager(database, owned, truncatable).ApplyAsync();

        var (errors, warnings) = await RlsChecks.SafetyAsync(database, owned, truncatable);
        Assert.Empty(errors);
        Assert.Equal(2, warnings.Count);
        Assert.StartsWith("the application role scaleops_rls_app owns (or is a member of the role that owns) table owned_docs: TRUNCATE ignores "
            + "row-level security", warnings[0], StringComparison.Ordinal);
        Assert.Contains("RlsPolicyManager.ApplyAsOwnerAsync", warnings[0], StringComparison.Ordinal);
        Assert.StartsWith("the application role scaleops_rls_app has the TRUNCATE privilege on table truncatable_docs", warnings[1], StringComparison.Ordinal);

        // What it warns about: one tenant's TRUNCATE empties the table for every tenant.
        await using var services = RlsDatabase.Services(database.AppConnectionString());
        var apis = new RlsApis(services);
        using (apis.Tenants.BeginScope(new ScaleOps.Tenancy.TenantId("t01")))
        {
            await apis.ExecuteAsync(Api.Batch, "TRUNCATE owned_docs");
        }

        await using var count = database.DataSource.CreateCommand("SELECT count(*) FROM owned_docs");
        Assert.Equal(0L, await count.ExecuteScalarAsync());
    }

    [Fact]
    public async Task An_invalid_or_partial_index_on_the_tenant_column_does_not_count_as_the_tenant_index()
    {
        await PostgresServer.ExecuteAsync(
            "CREATE TABLE invalid_idx (tenant_id text NOT NULL, body text NOT NULL); INSERT INTO invalid_idx VALUES ('t01', 'a'), ('t01', 'b');"
            + "CREATE TABLE partial_idx (tenant_id text NOT NULL, body text NOT NULL); CREATE INDEX ON partial_idx (tenant_id) WHERE body = 'x';"
            + "GRANT SELECT ON invalid_idx, partial_idx TO scaleops_rls_app", database.Name);
        // A unique index over duplicates fails to build concurrently and is left INVALID.
        await Assert.ThrowsAsync<Npgsql.PostgresException>(() =>
            PostgresServer.ExecuteAsync("CREATE UNIQUE INDEX CONCURRENTLY invalid_idx_tenant ON invalid_idx (tenant_id)", database.Name));
        var tables = new[] { new RlsTable("public", "invalid_idx"), new RlsTable("public", "partial_idx") };
        await RlsChecks.Manager(database, tables).ApplyAsync();

        var (_, warnings) = await RlsChecks.SafetyAsync(database, tables);
        Assert.Contains(warnings, w => w.StartsWith("table invalid_idx has no index leading with tenant_id", StringComparison.Ordinal));
        Assert.Contains(warnings, w => w.StartsWith("table partial_idx has no index leading with tenant_id", StringComparison.Ordinal));
    }

    /// <summary>
    /// A unique index without the tenant column is a side channel across tenants: tenant B's insert of an email tenant A
    /// already has fails with a unique violation, so B learns the value exists elsewhere, although the policy hides A's row.
    /// </summary>
    [Fact]
    public async Task A_unique_index_without_the_tenant_column_is_warned_about_naming_it()
    {
        await PostgresServer.ExecuteAsync(
            "CREATE TABLE people (id bigint PRIMARY KEY, tenant_id text NOT NULL, email text NOT NULL, slug text NOT NULL, code text NOT NULL);"
            + "CREATE INDEX ON people (tenant_id); CREATE UNIQUE INDEX people_email ON people (email);"
            + "CREATE UNIQUE INDEX people_slug ON people (slug) WHERE slug <> '';"
            + "CREATE UNIQUE INDEX people_tenant_code ON people (tenant_id, code); CREATE UNIQUE INDEX people_code_tenant ON people (code, tenant_id);"
            + "GRANT SELECT, INSERT ON people TO scaleops_rls_app", database.Name);
        var tables = new[] { new RlsTable("public", "people") };
        await RlsChecks.Manager(database, tables).ApplyAsync();

        var (errors, warnings) = await RlsChecks.SafetyAsync(database, tables);
        var warning = Assert.Single(warnings, w => w.Contains("unique indexes", StringComparison.Ordinal));
        Assert.StartsWith("table people has unique indexes without its tenant column tenant_id (people_email, people_slug): ", warning, StringComparison.Ordinal);
        Assert.DoesNotContain(errors, e => e.Contains("people", StringComparison.Ordinal));
    }

    /// <summary>
    /// A SECURITY DEFINER function owned by a superuser runs with its owner's rights, which row-level security does not
    /// bind: any tenant that calls it reads every tenant's rows.
    /// </summary>
    [Fact]
    public async Task A_security_definer_function_of_a_role_that_bypasses_row_security_is_warned_about_naming_it()
    {
        await PostgresServer.ExecuteAsync(
            "CREATE FUNCTION all_documents_count() RETURNS bigint LANGUAGE sql SECURITY DEFINER AS 'SELECT count(*) FROM documents';"
            + "CREATE FUNCTION own_documents_count() RETURNS bigint LANGUAGE sql AS 'SELECT count(*) FROM documents';"
            + "CREATE FUNCTION revoked_documents_count() RETURNS bigint LANGUAGE sql SECURITY DEFINER AS 'SELECT count(*) FROM documents';"
            + "REVOKE EXECUTE ON FUNCTION revoked_documents_count() FROM PUBLIC", database.Name);
        try
        {
            var (errors, warnings) = await RlsChecks.SafetyAsync(database, RlsDatabase.Tables());
            var warning = Assert.Single(warnings, w => w.Contains("SECURITY DEFINER", StringComparison.Ordinal));
            Assert.StartsWith("function all_documents_count() is SECURITY DEFINER and owned by role postgres, which bypasses row-level security",
                warning, StringComparison.Ordinal);
            Assert.Contains("REVOKE EXECUTE ON ROUTINE all_documents_count() FROM PUBLIC", warning, StringComparison.Ordinal);
            Assert.Empty(errors);

            // What it warns about: tenant t01 (one document) counts every tenant's documents through it.
            await using var services = RlsDatabase.Services(database.AppConnectionString());
            var apis = new RlsApis(services);
            using (apis.Tenants.BeginScope(new ScaleOps.Tenancy.TenantId("t01")))
            {
                await using var connection = await apis.Data.OpenConnectionAsync();
                await using var batch = connection.CreateBatch();
                batch.BatchCommands.Add(new Npgsql.NpgsqlBatchCommand("SELECT own_documents_count()"));
                batch.BatchCommands.Add(new Npgsql.NpgsqlBatchCommand("SELECT all_documents_count()"));
                await using var reader = await batch.ExecuteReaderAsync();
                Assert.True(await reader.ReadAsync());
                var own = reader.GetInt64(0);
                Assert.True(await reader.NextResultAsync() && await reader.ReadAsync());
                Assert.True(reader.GetInt64(0) > own, $"t01 saw {own} documents of its own and {reader.GetInt64(0)} through the definer function");
            }
        }
        finally
        {
            await PostgresServer.ExecuteAsync(
                "DROP FUNCTION all_documents_count(); DROP FUNCTION own_documents_count(); DROP FUNCTION revoked_documents_count()", database.Name);
        }
    }
}
