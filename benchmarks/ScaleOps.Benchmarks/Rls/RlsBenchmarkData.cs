using System;
using System.Globalization;
using System.Linq;
using System.Threading.Tasks;
using Npgsql;
using ScaleOps.TestInfrastructure;

namespace ScaleOps.Benchmarks.Rls;

/// <summary>
/// The skewed data set of the RLS benchmark, built once in the database <c>scaleops_rls_bench</c> of the test server and
/// reused while its row count matches: <c>events</c> with N rows (default 2,000,000; <c>SCALEOPS_RLS_BENCH_ROWS</c>),
/// 1,000 tenants, one whale with 10% of the rows, the others proportional to 1/sqrt(rank); heap ordered by
/// <c>created_at</c> (tenants interleaved); index <c>(tenant_id, created_at)</c>. One policy per role, so each
/// variant's policy is the only one that applies to it.
/// </summary>
public static class RlsBenchmarkData
{
    public const string Database = "scaleops_rls_bench";
    public static readonly DateTime Now = new(2026, 1, 1, 0, 0, 0, DateTimeKind.Utc);

    public static int Rows => int.TryParse(Environment.GetEnvironmentVariable("SCALEOPS_RLS_BENCH_ROWS"), out var n) ? n : 2_000_000;

    /// <summary>Extra connection string settings for every variant (<c>SCALEOPS_RLS_BENCH_CS</c>, e.g. <c>Max Auto Prepare=20</c>).</summary>
    public static string Extra => Environment.GetEnvironmentVariable("SCALEOPS_RLS_BENCH_CS") ?? "";

    public static string ConnectionString(string role) =>
        new NpgsqlConnectionStringBuilder(PostgresServer.ConnectionStringFor(Database) + ";" + Extra) { Username = role, MaxPoolSize = 20 }.ToString();

    public static async Task EnsureAsync()
    {
        await using (var admin = await PostgresServer.OpenAdminAsync())
        {
            await using var exists = new NpgsqlCommand($"SELECT count(*) FROM pg_database WHERE datname = '{Database}'", admin);
            if ((long)(await exists.ExecuteScalarAsync())! == 0)
            {
                await using var create = new NpgsqlCommand($"CREATE DATABASE {Database}", admin);
                await create.ExecuteNonQueryAsync();
            }
        }

        await using var connection = await PostgresServer.OpenAdminAsync(Database);
        await using (var procedure = new NpgsqlCommand(ContextProcedure(), connection))
        {
            await procedure.ExecuteNonQueryAsync();
        }

        await using (var check = new NpgsqlCommand(
            "SELECT coalesce(obj_description(c.oid, 'pg_class'), '') FROM pg_class c WHERE c.relname = 'events' AND c.relnamespace = 'public'::regnamespace",
            connection))
        {
            if ((string?)await check.ExecuteScalarAsync() == $"rows={Rows}")
            {
                return;
            }
        }

        Console.WriteLine($"// building the RLS benchmark data set ({Rows:N0} rows); this takes a minute");
        var sql = SetupSql.Replace("{{rows}}", Rows.ToString(CultureInfo.InvariantCulture), StringComparison.Ordinal);
        foreach (var statement in new string[]
                 {
                     sql, ContextProcedure(),
                     "VACUUM ANALYZE events", "VACUUM ANALYZE memberships", "VACUUM ANALYZE tenants", $"COMMENT ON TABLE events IS 'rows={Rows}'",
                 })
        {
            await using var setup = new NpgsqlCommand(statement, connection) { CommandTimeout = 1800 };
            await setup.ExecuteNonQueryAsync();
        }
    }

    // The package's own migration scripts (embedded in ScaleOps.Rls), in order, so the benchmark runs the shipped procedure.
    private static string ContextProcedure()
    {
        var assembly = typeof(ScaleOps.Rls.RlsOptions).Assembly;
        var scripts = new System.Text.StringBuilder();
        foreach (var name in assembly.GetManifestResourceNames()
                     .Where(n => n.StartsWith("ScaleOps.Rls.Sql.Migrations.", StringComparison.Ordinal))
                     .Order(StringComparer.Ordinal))
        {
            using var stream = assembly.GetManifestResourceStream(name)!;
            using var reader = new System.IO.StreamReader(stream);
            scripts.AppendLine(reader.ReadToEnd());
        }

        return scripts.ToString().Replace("{{schema}}", "\"scaleops\"", StringComparison.Ordinal);
    }

    private const string SetupSql = """
        DROP TABLE IF EXISTS events, tenants, memberships CASCADE;
        DO $$ BEGIN CREATE ROLE bench_plain LOGIN NOSUPERUSER BYPASSRLS; EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$;
        DO $$ BEGIN CREATE ROLE bench_app LOGIN NOSUPERUSER NOBYPASSRLS; EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$;
        DO $$ BEGIN CREATE ROLE bench_wrapped LOGIN NOSUPERUSER NOBYPASSRLS; EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$;
        DO $$ BEGIN CREATE ROLE bench_member LOGIN NOSUPERUSER NOBYPASSRLS; EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$;
        SELECT setseed(0.42);
        CREATE TABLE tenants AS
            SELECT r AS rank, md5('tenant' || r)::uuid AS id,
                   CASE WHEN r = 1 THEN {{rows}} / 10 ELSE greatest(1, round({{rows}} * 0.9 * power(r, -0.5) / s.total))::int END AS n
            FROM generate_series(1, 1000) r, (SELECT sum(power(g, -0.5)) AS total FROM generate_series(2, 1000) g) s;
        CREATE TABLE events (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, tenant_id uuid NOT NULL,
            created_at timestamptz NOT NULL, payload text NOT NULL);
        INSERT INTO events (tenant_id, created_at, payload)
            SELECT t.id, timestamptz '2026-01-01 00:00:00+00' - random() * interval '365 days', repeat('x', 60)
            FROM tenants t, LATERAL generate_series(1, t.n) ORDER BY 2;
        CREATE INDEX events_tenant_created ON events (tenant_id, created_at);
        CREATE TABLE memberships (user_id uuid NOT NULL, tenant_id uuid NOT NULL, PRIMARY KEY (user_id, tenant_id));
        INSERT INTO memberships SELECT md5('user' || g)::uuid, (SELECT id FROM tenants WHERE rank = 1 + (g * 7919) % 1000)
            FROM generate_series(1, 6000) g ON CONFLICT DO NOTHING;
        INSERT INTO memberships SELECT md5('member-of-' || rank)::uuid, id FROM tenants ON CONFLICT DO NOTHING;
        CREATE INDEX ON memberships (tenant_id);
        ALTER TABLE events ENABLE ROW LEVEL SECURITY;
        ALTER TABLE events FORCE ROW LEVEL SECURITY;
        CREATE POLICY ours ON events TO bench_app
            USING (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid);
        CREATE POLICY wrapped ON events TO bench_wrapped
            USING (tenant_id = (SELECT nullif(current_setting('app.tenant_id', true), '')::uuid));
        CREATE POLICY membership ON events TO bench_member
            USING (tenant_id IN (SELECT m.tenant_id FROM memberships m WHERE m.user_id = nullif(current_setting('app.user_id', true), '')::uuid));
        GRANT SELECT ON events, tenants, memberships TO bench_plain, bench_app, bench_wrapped, bench_member;
        """;
}
