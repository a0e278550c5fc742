using Npgsql;

namespace ScaleOps.TestInfrastructure;

/// <summary>
/// A streaming hot-standby replica of the test PostgreSQL (<c>scripts/servers.d/pgreplica.sh</c>, pg_basebackup -R):
/// every database created on the primary appears here.
/// </summary>
public static class PostgresReplicaServer
{
    /// <summary>The superuser connection string of the replica's <c>postgres</c> database (<c>SCALEOPS_PG_REPLICA</c>).</summary>
    public static string AdminConnectionString => TestServers.Require("SCALEOPS_PG_REPLICA", "the PostgreSQL streaming replica (pgreplica)");

    /// <summary>A connection string for a database on the replica.</summary>
    /// <param name="database">The database.</param>
    /// <param name="username">The role; the superuser when null.</param>
    /// <returns>The connection string.</returns>
    public static string ConnectionStringFor(string database, string? username = null)
    {
        var builder = new NpgsqlConnectionStringBuilder(AdminConnectionString) { Database = database, MaxPoolSize = 20 };
        if (username is not null)
        {
            builder.Username = username;
        }

        return builder.ToString();
    }
}
