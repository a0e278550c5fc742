using System;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Net;
using System.Net.Sockets;
using System.Threading.Tasks;
using Npgsql;

namespace ScaleOps.TestInfrastructure;

/// <summary>
/// A streaming hot-standby replica of the shared test PostgreSQL that one test owns, made the way
/// <c>scripts/servers.d/pgreplica.sh</c> makes the shared one: <c>pg_basebackup -R -X stream</c> from the shared primary
/// into a temporary directory, started with the Debian server binaries of the primary's major version on its own free
/// loopback port, as the OS user <c>scaleops-pg</c> (<c>SCALEOPS_PG_OS_USER</c>) when the tests run as root. A test may
/// pause its replay or repoint it at will: the shared replica (<see cref="PostgresReplicaServer"/>), which other test
/// classes and other checkouts' runs read from, is never touched. Disposing stops it by the postmaster PID recorded at
/// its start, never by name, and deletes its directory.
/// </summary>
public sealed class PrivatePostgresReplica : IAsyncDisposable
{
    private readonly string _directory;

    private PrivatePostgresReplica(string directory, int port, int pid)
    {
        _directory = directory;
        Port = port;
        Pid = pid;
    }

    /// <summary>The replica's loopback port.</summary>
    public int Port { get; }

    /// <summary>The postmaster's process id, read from <c>postmaster.pid</c> once it had started.</summary>
    public int Pid { get; }

    /// <summary>The superuser connection string of the replica's <c>postgres</c> database.</summary>
    public string AdminConnectionString => ConnectionStringFor("postgres");

    private static string OsUser => Environment.GetEnvironmentVariable("SCALEOPS_PG_OS_USER") is { Length: > 0 } user ? user : "scaleops-pg";

    private static bool IsRoot => Environment.UserName == "root";

    private string DataDirectory => Path.Combine(_directory, "data");

    /// <summary>A connection string for a database on the replica.</summary>
    /// <param name="database">The database.</param>
    /// <param name="username">The role; the superuser when null.</param>
    /// <returns>The connection string.</returns>
    public string ConnectionStringFor(string database, string? username = null) =>
        new NpgsqlConnectionStringBuilder
        {
            Host = "127.0.0.1",
            Port = Port,
            Database = database,
            Username = username ?? "postgres",
            MaxPoolSize = 20,
        }.ToString();

    /// <summary>
    /// Takes a base backup of the shared primary and starts it as a streaming hot standby. Fails (never skips) with the
    /// command that fixes it when the server binaries or the OS user are missing.
    /// </summary>
    /// <returns>The running replica, streaming, with a commit made after its start replayed.</returns>
    public static async Task<PrivatePostgresReplica> StartAsync()
    {
        var primary = new NpgsqlConnectionStringBuilder(PostgresServer.AdminConnectionString);
        var bin = await FindBinariesAsync();
        if (IsRoot && !await SucceedsAsync("id", "-u", OsUser))
        {
            throw new ServerMissingException(
                $"The OS user {OsUser} that runs the test PostgreSQL servers does not exist (PostgreSQL refuses to run as root). "
                + $"Create it with `useradd --system --no-create-home --shell /usr/sbin/nologin {OsUser}` "
                + $"(`{TestServers.StartCommand} postgres` does so as root).");
        }

        var directory = Directory.CreateTempSubdirectory("scaleops-pgreplica-").FullName;
        PrivatePostgresReplica replica;
        try
        {
            if (IsRoot)
            {
                await RunAsync("chown", OsUser, directory);
            }

            var data = Path.Combine(directory, "data");

            // The copy is thrown away with the test: no fsync of its hundreds of MB (that triples the backup's time), no
            // manifest (only pg_verifybackup reads it).
            await AsPgAsync(bin, "pg_basebackup", "-h", primary.Host!, "-p", primary.Port.ToString(CultureInfo.InvariantCulture),
                "-U", primary.Username ?? "postgres", "-D", data, "-R", "-X", "stream", "-c", "fast", "--no-sync", "--no-manifest");

            // The copied postgresql.conf is the primary's (its port, 256 MB of shared buffers); max_connections and the like
            // must stay at the primary's values for a hot standby. fsync = off also spares the start its fsync of the whole
            // data directory (a base backup starts like a crashed server), seconds on a busy machine.
            await File.AppendAllTextAsync(Path.Combine(data, "postgresql.conf"),
                "\n# Private replica of one test (ScaleOps.TestInfrastructure.PrivatePostgresReplica)\n"
                + "listen_addresses = '127.0.0.1'\nunix_socket_directories = ''\nshared_buffers = 32MB\nhot_standby = on\nfsync = off\n");
            replica = await StartPostmasterAsync(bin, directory);
        }
        catch
        {
            Directory.Delete(directory, recursive: true);
            throw;
        }

        try
        {
            await replica.WaitUntilReadyAsync();
            return replica;
        }
        catch
        {
            await replica.DisposeAsync();
            throw;
        }
    }

    // The port is free when chosen, but something else may bind it before the postmaster does: then another one is tried.
    private static async Task<PrivatePostgresReplica> StartPostmasterAsync(string bin, string directory)
    {
        var data = Path.Combine(directory, "data");
        for (var attempt = 1; ; attempt++)
        {
            var port = FreePort();
            var log = Path.Combine(directory, $"postgres-{attempt}.log");
            try
            {
                await AsPgAsync(bin, "pg_ctl", "-D", data, "-l", log, "-w", "-t", "120",
                    "-o", $"-p {port.ToString(CultureInfo.InvariantCulture)}", "start");
            }
            catch (InvalidOperationException ex) when (attempt < 3 && ReadLog(log).Contains("could not bind", StringComparison.Ordinal))
            {
                Trace.WriteLine($"Private replica could not bind port {port}, trying another: {ex.Message}");
                continue;
            }
            catch (InvalidOperationException ex)
            {
                throw new InvalidOperationException($"The private replica did not start: {ex.Message}\n{Tail(ReadLog(log))}", ex);
            }

            var pid = int.Parse((await File.ReadAllLinesAsync(Path.Combine(data, "postmaster.pid")))[0], CultureInfo.InvariantCulture);
            return new PrivatePostgresReplica(directory, port, pid);
        }
    }

    /// <summary>Stops the replica by its recorded PID (fast shutdown) and deletes its directory.</summary>
    /// <returns>A task.</returns>
    public async ValueTask DisposeAsync()
    {
        NpgsqlConnection.ClearAllPools();
        if (IsOurPostmaster())
        {
            await RunAsync("kill", "-INT", Pid.ToString(CultureInfo.InvariantCulture));
            try
            {
                await TestSignal.UntilAsync(() => Task.FromResult(!IsAlive(Pid)), $"the private replica (pid {Pid}) to shut down", TimeSpan.FromSeconds(60));
            }
            catch (TimeoutException)
            {
                // Its children notice the postmaster's death and exit on their own.
                await RunAsync("kill", "-KILL", Pid.ToString(CultureInfo.InvariantCulture));
                throw;
            }
            finally
            {
                if (!IsAlive(Pid))
                {
                    Directory.Delete(_directory, recursive: true);
                }
            }
        }
        else
        {
            Directory.Delete(_directory, recursive: true);
        }
    }

    // Accepting connections comes first; its WAL receiver connects to the primary a moment later, and until then
    // pg_last_wal_receive_lsn() is null. Until it has replayed a commit, pg_last_xact_replay_timestamp() is null too, and
    // a router cannot tell its lag: a commit is made on the primary (not left to other test classes' traffic) and waited
    // for. A replica handed to a test streams and has replayed a recent commit.
    private async Task WaitUntilReadyAsync()
    {
        await using var connection = new NpgsqlConnection(new NpgsqlConnectionStringBuilder(AdminConnectionString) { Pooling = false }.ToString());
        await connection.OpenAsync();
        await using var streaming = new NpgsqlCommand("SELECT EXISTS (SELECT FROM pg_stat_wal_receiver WHERE status = 'streaming')", connection);
        await TestSignal.UntilAsync(
            async () => (bool)(await streaming.ExecuteScalarAsync())!, $"the private replica on port {Port} to stream from the primary", TimeSpan.FromSeconds(60));

        string committed;
        await using (var primary = await PostgresServer.OpenAdminAsync())
        await using (var commit = new NpgsqlCommand("SELECT pg_current_xact_id()::text", primary))
        await using (var position = new NpgsqlCommand("SELECT pg_current_wal_lsn()::text", primary))
        {
            await commit.ExecuteScalarAsync();
            committed = (string)(await position.ExecuteScalarAsync())!;
        }

        await using var replayed = new NpgsqlCommand("SELECT pg_last_wal_replay_lsn() >= $1::pg_lsn AND pg_last_xact_replay_timestamp() IS NOT NULL", connection);
        replayed.Parameters.Add(new NpgsqlParameter { Value = committed });
        await TestSignal.UntilAsync(
            async () => (bool)(await replayed.ExecuteScalarAsync())!, $"the private replica on port {Port} to replay a commit", TimeSpan.FromSeconds(60));
    }

    // The PID is only signalled while it still belongs to this replica's postmaster (a PID can be reused once it exits).
    private bool IsOurPostmaster()
    {
        if (!IsAlive(Pid))
        {
            return false;
        }

        try
        {
            var commandLine = File.ReadAllText($"/proc/{Pid}/cmdline").Split('\0');
            return commandLine.Contains(DataDirectory, StringComparer.Ordinal);
        }
        catch (IOException)
        {
            return false;
        }
    }

    // Gone, or a zombie nobody reaps (the postmaster is reparented once pg_ctl exits).
    private static bool IsAlive(int pid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            var state = stat[(stat.LastIndexOf(')') + 2)..].TrimStart();
            return state.Length > 0 && state[0] != 'Z';
        }
        catch (IOException)
        {
            return false;
        }
    }

    private static async Task<string> FindBinariesAsync()
    {
        await using var connection = await PostgresServer.OpenAdminAsync();
        await using var command = new NpgsqlCommand("SELECT current_setting('server_version_num')::int / 10000", connection);
        var major = (int)(await command.ExecuteScalarAsync())!;
        var bin = $"/usr/lib/postgresql/{major}/bin";
        var missing = new[] { "pg_basebackup", "pg_ctl", "postgres" }.Where(tool => !File.Exists(Path.Combine(bin, tool))).ToList();
        if (missing.Count > 0)
        {
            throw new ServerMissingException(
                $"The PostgreSQL {major} server binaries ({string.Join(", ", missing)}) are missing from {bin}; a test's private replica "
                + $"needs them. Install them with `apt-get install -y postgresql-{major}` (`{TestServers.StartCommand} postgres` does so as root).");
        }

        return bin;
    }

    private static int FreePort()
    {
        using var probe = new TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        return ((IPEndPoint)probe.LocalEndpoint).Port;
    }

    private static string ReadLog(string path) => File.Exists(path) ? File.ReadAllText(path) : "(no log)";

    private static string Tail(string text) => string.Join('\n', text.Split('\n').TakeLast(20));

    private static Task AsPgAsync(string bin, string tool, params string[] args)
    {
        var exe = Path.Combine(bin, tool);
        return IsRoot ? RunAsync("runuser", ["-u", OsUser, "--", exe, .. args]) : RunAsync(exe, args);
    }

    private static async Task<bool> SucceedsAsync(string file, params string[] args)
    {
        try
        {
            await RunAsync(file, args);
            return true;
        }
        catch (InvalidOperationException)
        {
            return false;
        }
    }

    private static async Task RunAsync(string file, params string[] args)
    {
        var info = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var arg in args)
        {
            info.ArgumentList.Add(arg);
        }

        using var process = Process.Start(info) ?? throw new InvalidOperationException($"{file} did not start.");
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync().WaitAsync($"{file} {string.Join(' ', args)}", TimeSpan.FromMinutes(3));
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"`{file} {string.Join(' ', args)}` failed ({process.ExitCode}): {await stderr}{await stdout}");
        }
    }
}
