using Npgsql;

namespace ScaleOps.TestInfrastructure;

/// <summary>
/// pgbouncer in transaction pooling mode in front of the test PostgreSQL (<c>scripts/servers.d/pgbouncer.sh</c>).
/// It forwards any database; the users it accepts are <c>postgres</c> and <c>scaleops_rls_app</c>.
/// </summary>
public static class PgBouncerServer
{
    /// <summary>The connection string without a database (<c>SCALEOPS_PGBOUNCER</c>).</summary>
    public static string ConnectionString => TestServers.Require("SCALEOPS_PGBOUNCER", "pgbouncer");

    /// <summary>A connection string through pgbouncer.</summary>
    /// <param name="database">The database (on the test PostgreSQL).</param>
    /// <param name="username">The role; one pgbouncer's userlist knows.</param>
    /// <param name="maxPoolSize">The client-side pool size.</param>
    /// <returns>The connection string.</returns>
    public static string ConnectionStringFor(string database, string username, int maxPoolSize = 10) =>
        new NpgsqlConnectionStringBuilder(ConnectionString) { Database = database, Username = username, MaxPoolSize = maxPoolSize }.ToString();
}
