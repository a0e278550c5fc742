using System;
using System.Diagnostics;
using System.IO;
using System.Net;
using System.Net.Sockets;
using System.Threading.Tasks;

namespace ScaleOps.Jobs.Tests.Support;

/// <summary>
/// A private PostgreSQL 15 instance that one test owns and may restart, so the shared test server is never touched.
/// Started with initdb/pg_ctl like scripts/servers.sh (as the <c>scaleops-pg</c> OS user when running as root).
/// </summary>
public sealed class PrivatePostgres : IAsyncDisposable
{
    private const string OsUser = "scaleops-pg";
    private readonly string _dir;
    private readonly string _bin;

    private PrivatePostgres(string dir, string bin, int port)
    {
        _dir = dir;
        _bin = bin;
        Port = port;
    }

    public int Port { get; }

    public string ConnectionString => $"Host=127.0.0.1;Port={Port};Username=postgres;Database=postgres;Timeout=5";

    public static async Task<PrivatePostgres> StartAsync()
    {
        var bin = FindBin();
        var dir = Path.Combine(Path.GetTempPath(), "scaleops-jobs-pg-" + Guid.NewGuid().ToString("N")[..12]);
        Directory.CreateDirectory(dir);
        if (IsRoot)
        {
            await RunAsync("chown", OsUser, dir);
        }

        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        var pg = new PrivatePostgres(dir, bin, port);
        await pg.AsPgAsync("initdb", "-D", pg.Data, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-locale", "--no-sync");
        await File.AppendAllTextAsync(Path.Combine(pg.Data, "postgresql.conf"),
            $"\nlisten_addresses = '127.0.0.1'\nport = {port}\nunix_socket_directories = ''\nmax_connections = 100\nshared_buffers = 32MB\n");
        await pg.AsPgAsync("pg_ctl", "-D", pg.Data, "-l", Path.Combine(dir, "log"), "-w", "-t", "60", "start");
        return pg;
    }

    private string Data => Path.Combine(_dir, "data");

    /// <summary>Restarts the server (fast shutdown: every connection is cut).</summary>
    public Task RestartAsync() => AsPgAsync("pg_ctl", "-D", Data, "-l", Path.Combine(_dir, "log"), "-w", "-t", "60", "-m", "fast", "restart");

    /// <summary>Stops the server at once (immediate shutdown: every connection is cut, new ones are refused).</summary>
    public Task StopAsync() => AsPgAsync("pg_ctl", "-D", Data, "-w", "-m", "immediate", "stop");

    /// <summary>Starts the server again after <see cref="StopAsync"/> (crash recovery first).</summary>
    public Task StartAgainAsync() => AsPgAsync("pg_ctl", "-D", Data, "-l", Path.Combine(_dir, "log"), "-w", "-t", "60", "start");

    public async ValueTask DisposeAsync()
    {
        try
        {
            await AsPgAsync("pg_ctl", "-D", Data, "-w", "-m", "immediate", "stop");
        }
        finally
        {
            Directory.Delete(_dir, recursive: true);
        }
    }

    private static bool IsRoot => Environment.UserName == "root";

    private Task AsPgAsync(string tool, params string[] args)
    {
        var exe = Path.Combine(_bin, tool);
        return IsRoot ? RunAsync("runuser", ["-u", OsUser, "--", exe, .. args]) : RunAsync(exe, args);
    }

    private static string FindBin()
    {
        foreach (var candidate in new[] { "/usr/lib/postgresql/15/bin", "/usr/lib/postgresql/16/bin", "/usr/lib/postgresql/17/bin" })
        {
            if (File.Exists(Path.Combine(candidate, "pg_ctl")))
            {
                return candidate;
            }
        }

        throw new InvalidOperationException(
            "PostgreSQL server binaries (initdb, pg_ctl) were not found under /usr/lib/postgresql/*/bin; run `scripts/servers.sh start` once, which installs them.");
    }

    private static async Task RunAsync(string file, params string[] args)
    {
        var info = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in args)
        {
            info.ArgumentList.Add(a);
        }

        using var process = Process.Start(info)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"{file} {string.Join(' ', args)} failed ({process.ExitCode}): {await stderr}{await stdout}");
        }
    }
}
