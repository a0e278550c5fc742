using System;
using System.Threading.Tasks;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Npgsql;
using ScaleOps.Rls.Internal;
using ScaleOps.TestInfrastructure;

namespace ScaleOps.Rls.Tests.Support;

/// <summary>
/// A database with the RLS test schema: five protected tables (one per kind, plus a uuid-keyed one), the context
/// procedure, policies applied, and seed data (tenant tNN has NN documents). The application connects as the
/// NOSUPERUSER NOBYPASSRLS role <see cref="AppRole"/>; system work as <see cref="BypassRole"/> (BYPASSRLS).
/// </summary>
public class RlsDatabase : PostgresDatabase
{
    /// <summary>The application role: subject to RLS. Known to pgbouncer's userlist.</summary>
    public const string AppRole = "scaleops_rls_app";

    /// <summary>The bypass role: NOSUPERUSER BYPASSRLS.</summary>
    public const string BypassRole = "scaleops_rls_bypass";

    /// <summary>The seeded tenants t01..t20; tenant tNN has NN documents.</summary>
    public const int TenantCount = 20;

    public static readonly Guid AccountTenantA = Guid.Parse("0b7f9a52-2a5c-4c59-9d5e-9a4a8d2c0001");
    public static readonly Guid AccountTenantB = Guid.Parse("0b7f9a52-2a5c-4c59-9d5e-9a4a8d2c0002");

    public static RlsTable[] Tables() =>
    [
        new("public", "documents"),
        new("public", "accounts"),
        new("public", "notes", RlsTableKind.UserOwned) { ExtraRoles = ["admin"] },
        new("public", "announcements", RlsTableKind.AuthenticatedRead) { ExtraRoles = ["editor"] },
        new("public", "audit_entries", RlsTableKind.RoleOnly) { Role = "auditor" },
    ];

    public static string Tenant(int i) => $"t{i:00}";

    /// <summary>The application role's connection string, direct.</summary>
    public string AppConnectionString(int maxPoolSize = 10) =>
        new NpgsqlConnectionStringBuilder(ConnectionString) { Username = AppRole, MaxPoolSize = maxPoolSize }.ToString();

    /// <summary>The bypass role's connection string.</summary>
    public string BypassConnectionString => new NpgsqlConnectionStringBuilder(ConnectionString) { Username = BypassRole }.ToString();

    /// <summary>Services with ScaleOps and Rls over <paramref name="appConnectionString"/> (no host, nothing applied on start).</summary>
    public static ServiceProvider Services(
        string appConnectionString, Action<RlsOptions>? configure = null, TimeProvider? time = null, Action<IServiceCollection>? more = null)
    {
        var services = new ServiceCollection();
        services.AddLogging();
        services.AddScaleOps(o =>
        {
            o.ConnectionString = appConnectionString;
            o.ApplyMigrationsOnStart = false;
        }).AddRls(o =>
        {
            foreach (var table in Tables())
            {
                o.Tables.Add(table);
            }

            o.ApplyPoliciesOnStart = false;
            configure?.Invoke(o);
        }).AddRlsEntityFrameworkCore();
        if (time is not null)
        {
            services.Replace(ServiceDescriptor.Singleton(time));
        }

        more?.Invoke(services);

        return services.BuildServiceProvider();
    }

    public static async Task EnsureRolesAsync()
    {
        await PostgresServer.ExecuteAsync(RoleSql(AppRole, "NOBYPASSRLS"));
        await PostgresServer.ExecuteAsync(RoleSql(BypassRole, "BYPASSRLS"));
    }

    public static string RoleSql(string role, string bypass) =>
        $"DO $$ BEGIN CREATE ROLE {role} LOGIN NOSUPERUSER {bypass}; EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$";

    public static string ContextProcedureSql => RlsSql.TenantContextMigrations.Replace("{{schema}}", "\"scaleops\"", StringComparison.Ordinal);

    public const string SchemaSql = """
        CREATE TABLE documents (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, tenant_id text NOT NULL, user_id text,
            title text NOT NULL, created_at timestamptz NOT NULL DEFAULT now());
        CREATE INDEX documents_tenant ON documents (tenant_id, created_at);
        CREATE TABLE accounts (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, tenant_id uuid NOT NULL, name text NOT NULL);
        CREATE INDEX accounts_tenant ON accounts (tenant_id);
        CREATE TABLE notes (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, tenant_id text NOT NULL, user_id text NOT NULL, body text NOT NULL);
        CREATE INDEX notes_tenant ON notes (tenant_id, user_id);
        CREATE TABLE announcements (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, tenant_id text NOT NULL, body text NOT NULL);
        CREATE INDEX announcements_tenant ON announcements (tenant_id);
        CREATE TABLE audit_entries (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, tenant_id text NOT NULL, entry text NOT NULL);
        CREATE INDEX audit_entries_tenant ON audit_entries (tenant_id);
        GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO scaleops_rls_app, scaleops_rls_bypass;
        GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO scaleops_rls_app, scaleops_rls_bypass;
        INSERT INTO documents (tenant_id, user_id, title, created_at)
            SELECT 't' || lpad(t::text, 2, '0'), 'u' || (n % 3), 'doc ' || n, now() - n * interval '1 hour'
            FROM generate_series(1, 20) t, generate_series(1, t) n;
        INSERT INTO accounts (tenant_id, name) VALUES ('0b7f9a52-2a5c-4c59-9d5e-9a4a8d2c0001', 'a1'),
            ('0b7f9a52-2a5c-4c59-9d5e-9a4a8d2c0001', 'a2'), ('0b7f9a52-2a5c-4c59-9d5e-9a4a8d2c0002', 'b1');
        INSERT INTO notes (tenant_id, user_id, body) VALUES ('t01', 'alice', 'alice 1'), ('t01', 'alice', 'alice 2'),
            ('t01', 'bob', 'bob 1'), ('t02', 'alice', 'other tenant alice');
        INSERT INTO announcements (tenant_id, body) VALUES ('t01', 'hello t01'), ('t01', 'second'), ('t02', 'hello t02');
        INSERT INTO audit_entries (tenant_id, entry) VALUES ('t01', 'login'), ('t01', 'export'), ('t02', 'login t02');
        """;

    protected override async Task InitializeTemplateAsync(string templateDatabase)
    {
        await EnsureRolesAsync();
        await PostgresServer.ExecuteAsync(ContextProcedureSql, templateDatabase);
        await PostgresServer.ExecuteAsync(SchemaSql, templateDatabase);
        await using var owner = NpgsqlDataSource.Create(PostgresServer.ConnectionStringFor(templateDatabase, pooling: false));
        var options = new RlsOptions();
        foreach (var table in Tables())
        {
            options.Tables.Add(table);
        }

        var manager = new RlsPolicyManager(owner, Options.Create(options), NullLogger<RlsPolicyManager>.Instance);
        await manager.ApplyAsOwnerAsync(owner);
    }
}
