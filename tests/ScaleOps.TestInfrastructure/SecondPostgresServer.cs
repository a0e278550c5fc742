using System.Threading.Tasks;
using Npgsql;

namespace ScaleOps.TestInfrastructure;

/// <summary>A second, independent PostgreSQL primary (<c>scripts/servers.d/postgres2.sh</c>), for tenant shard tests.</summary>
public static class SecondPostgresServer
{
    /// <summary>The superuser connection string of its <c>postgres</c> database (<c>SCALEOPS_PG2</c>).</summary>
    public static string AdminConnectionString => TestServers.Require("SCALEOPS_PG2", "the second PostgreSQL (postgres2)");

    /// <summary>A connection string for a database on it.</summary>
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

    /// <summary>Runs one admin statement.</summary>
    /// <param name="sql">The statement.</param>
    /// <param name="database">The database.</param>
    /// <returns>A task.</returns>
    public static async Task ExecuteAsync(string sql, string database = "postgres")
    {
        await using var connection = new NpgsqlConnection(new NpgsqlConnectionStringBuilder(ConnectionStringFor(database)) { Pooling = false }.ToString());
        try
        {
            await connection.OpenAsync();
        }
        catch (NpgsqlException ex)
        {
            throw new ServerMissingException($"The second PostgreSQL (postgres2) is not reachable: {ex.Message}. Start it with `{TestServers.StartCommand}`.", ex);
        }

        await using var command = new NpgsqlCommand(sql, connection);
        await command.ExecuteNonQueryAsync();
    }
}
