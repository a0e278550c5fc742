using System;
using System.Threading.Tasks;
using Npgsql;
using ScaleOps.TestInfrastructure;

namespace ScaleOps.Rls.Tests.Support;

/// <summary>
/// The production setup the README recommends, for the test databases that use it: a NOLOGIN owner role that owns the
/// tables, and a migration login that acts as it (NOLOGIN roles cannot connect themselves).
/// </summary>
public static class OwnerRoles
{
    /// <summary>Creates both roles (if missing) and lets the owner create in <paramref name="database"/> and its public schema.</summary>
    public static async Task CreateAsync(string database, string ownerRole, string migrationRole)
    {
        await RlsDatabase.EnsureRolesAsync();
        await PostgresServer.ExecuteAsync(RlsDatabase.RoleSql(ownerRole, "NOBYPASSRLS").Replace(" LOGIN ", " NOLOGIN ", StringComparison.Ordinal));
        await PostgresServer.ExecuteAsync(RlsDatabase.RoleSql(migrationRole, "NOBYPASSRLS"));
        await PostgresServer.ExecuteAsync($"GRANT {ownerRole} TO {migrationRole}");
        await PostgresServer.ExecuteAsync($"GRANT CREATE ON DATABASE \"{database}\" TO {ownerRole}; GRANT CREATE ON SCHEMA public TO {ownerRole}", database);
    }

    /// <summary>The migration login, acting as the owner role for the whole session.</summary>
    public static string ConnectionString(string connectionString, string ownerRole, string migrationRole) =>
        new NpgsqlConnectionStringBuilder(connectionString)
        {
            Username = migrationRole,
            Options = $"-c role={ownerRole}",
            Pooling = false,
        }.ToString();

    /// <summary>The <see cref="PostgresException"/> in <paramref name="exception"/> or its inner exceptions.</summary>
    public static PostgresException FindPostgres(Exception exception)
    {
        for (Exception? e = exception; e is not null; e = e.InnerException)
        {
            if (e is PostgresException postgres)
            {
                return postgres;
            }
        }

        throw new Xunit.Sdk.XunitException($"Expected a PostgresException, got {exception}");
    }
}
