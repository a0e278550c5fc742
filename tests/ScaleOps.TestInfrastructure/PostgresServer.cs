using System;
using System.Collections.Concurrent;
using System.Diagnostics;
using System.Threading;
using System.Threading.Tasks;
using Npgsql;

namespace ScaleOps.TestInfrastructure;

/// <summary>
/// The test PostgreSQL server started by <c>scripts/servers.sh</c>. Hands out fresh databases cloned from per-process
/// template databases, so each test class gets its own database in milliseconds.
/// </summary>
public static class PostgresServer
{
    private static readonly ConcurrentDictionary<string, Lazy<Task<string>>> Templates = new(StringComparer.Ordinal);
    private static readonly Lazy<Task> StaleSweep = new(DropStaleDatabasesAsync);
    private static int _counter;

    /// <summary>The superuser connection string of the server's <c>postgres</c> database.</summary>
    public static string AdminConnectionString => TestServers.Require("SCALEOPS_PG", "PostgreSQL");

    /// <summary>The connection string for a database on the test server.</summary>
    /// <param name="database">The database name.</param>
    /// <param name="pooling">Whether to pool connections.</param>
    /// <returns>The connection string.</returns>
    public static string ConnectionStringFor(string database, bool pooling = true) =>
        new NpgsqlConnectionStringBuilder(AdminConnectionString) { Database = database, Pooling = pooling, MaxPoolSize = 50 }.ToString();

    /// <summary>Opens an admin connection, failing with the fixing command when the server is down.</summary>
    /// <param name="database">The database; <c>postgres</c> by default.</param>
    /// <returns>An open, unpooled connection.</returns>
    public static async Task<NpgsqlConnection> OpenAdminAsync(string database = "postgres")
    {
        var connection = new NpgsqlConnection(ConnectionStringFor(database, pooling: false));
        try
        {
            await connection.OpenAsync();
            return connection;
        }
        catch (Exception ex) when (ex is NpgsqlException or TimeoutException)
        {
            await connection.DisposeAsync();
            throw new ServerMissingException(
                $"PostgreSQL is not reachable ({Describe()}): {ex.Message}. Start it with `{TestServers.StartCommand}`.", ex);
        }
    }

    /// <summary>Runs one admin statement.</summary>
    /// <param name="sql">The statement.</param>
    /// <param name="database">The database.</param>
    /// <returns>A task.</returns>
    public static async Task ExecuteAsync(string sql, string database = "postgres")
    {
        await using var connection = await OpenAdminAsync(database);
        await using var command = new NpgsqlCommand(sql, connection);
        await command.ExecuteNonQueryAsync();
    }

    /// <summary>
    /// Creates a new database cloned from the template <paramref name="templateKey"/>, building the template once per
    /// test process with <paramref name="initializeTemplate"/>.
    /// </summary>
    /// <param name="templateKey">Names the template; one per kind of fixture.</param>
    /// <param name="initializeTemplate">Fills the template (schema, extensions, seed data).</param>
    /// <returns>The new database's name.</returns>
    public static async Task<string> CreateDatabaseAsync(string templateKey, Func<string, Task> initializeTemplate)
    {
        ArgumentNullException.ThrowIfNull(initializeTemplate);
        await StaleSweep.Value;
        var template = await Templates.GetOrAdd(templateKey, key => new Lazy<Task<string>>(() => BuildTemplateAsync(key, initializeTemplate))).Value;
        var name = $"t_{Environment.ProcessId}_{Interlocked.Increment(ref _counter)}";
        await ExecuteAsync($"CREATE DATABASE \"{name}\" TEMPLATE \"{template}\"");
        return name;
    }

    /// <summary>Drops a database, closing its connections first.</summary>
    /// <param name="name">The database.</param>
    /// <returns>A task.</returns>
    public static async Task DropDatabaseAsync(string name)
    {
        NpgsqlConnection.ClearAllPools();
        await ExecuteAsync($"DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)");
    }

    private static async Task<string> BuildTemplateAsync(string key, Func<string, Task> initialize)
    {
        var safeKey = new string(Array.ConvertAll(key.ToCharArray(), c => char.IsAsciiLetterOrDigit(c) ? char.ToLowerInvariant(c) : '_'));
        var name = $"tpl_{Environment.ProcessId}_{safeKey}";
        if (name.Length > 63)
        {
            name = name[..63];
        }

        await ExecuteAsync($"DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)");
        await ExecuteAsync($"CREATE DATABASE \"{name}\"");
        await initialize(name);

        // A template must have no open connections when it is cloned.
        NpgsqlConnection.ClearPool(new NpgsqlConnection(ConnectionStringFor(name)));
        await ExecuteAsync($"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}' AND pid <> pg_backend_pid()");
        AppDomain.CurrentDomain.ProcessExit += (_, _) => TryDrop(name);
        return name;
    }

    /// <summary>
    /// Drops the databases of test processes that are gone: a test host killed at the end of a run never gets to its
    /// ProcessExit handler, and each of its templates would stay on the server for good.
    /// </summary>
    public static async Task DropStaleDatabasesAsync()
    {
        var stale = new System.Collections.Generic.List<string>();
        await using (var connection = await OpenAdminAsync())
        await using (var command = new NpgsqlCommand(
            "SELECT datname FROM pg_database WHERE datname ~ '^(tpl|t)_[0-9]+_' AND NOT datistemplate", connection))
        await using (var reader = await command.ExecuteReaderAsync())
        {
            while (await reader.ReadAsync())
            {
                stale.Add(reader.GetString(0));
            }
        }

        foreach (var name in stale)
        {
            if (int.TryParse(name.Split('_')[1], System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var pid)
                && !IsRunning(pid))
            {
                await ExecuteAsync($"DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)");
            }
        }
    }

    /// <summary>Whether a process with this id runs on this machine (the test server is on loopback, so its clients are local).</summary>
    public static bool IsRunning(int pid)
    {
        try
        {
            using var process = Process.GetProcessById(pid);
            return !process.HasExited;
        }
        catch (ArgumentException)
        {
            return false;
        }
    }

    private static void TryDrop(string name)
    {
        try
        {
            using var connection = new NpgsqlConnection(ConnectionStringFor("postgres", pooling: false));
            connection.Open();
            using var command = new NpgsqlCommand($"DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)", connection);
            command.ExecuteNonQuery();
        }
        catch (NpgsqlException ex)
        {
            Trace.WriteLine($"Could not drop template {name}: {ex.Message}");
        }
    }

    private static string Describe()
    {
        var builder = new NpgsqlConnectionStringBuilder(AdminConnectionString);
        return $"{builder.Host}:{builder.Port}";
    }
}
