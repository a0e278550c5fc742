using System;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Net;
using System.Net.Sockets;
using System.Text.RegularExpressions;
using System.Threading.Tasks;

namespace ScaleOps.TestInfrastructure;

/// <summary>
/// A redis-server owned by one test: random free loopback port, no persistence, stopped, paused and restarted by its
/// own PID only. Outage tests use it so they never disturb the shared server other classes use in parallel.
/// </summary>
public sealed class PrivateRedisServer : IAsyncDisposable
{
    private readonly string? _dataDirectory;
    private readonly string[] _arguments;
    private Process? _process;

    private PrivateRedisServer(int port, string? dataDirectory, string[]? arguments = null)
    {
        Port = port;
        _dataDirectory = dataDirectory;
        _arguments = arguments ?? [];
    }

    public int Port { get; }

    public string Endpoint => $"127.0.0.1:{Port}";

    public static Task<PrivateRedisServer> StartAsync() => StartAsync(persistent: false);

    /// <summary>Starts a server on a free port.</summary>
    /// <param name="persistent">
    /// Whether the data survives a stop and restart (an append-only file, fsync on every write, in a temporary directory
    /// removed on dispose): a server that crashes and comes back with its data. Otherwise a restart starts empty.
    /// </param>
    /// <returns>The running server.</returns>
    public static async Task<PrivateRedisServer> StartAsync(bool persistent)
    {
        // The port is free when probed, but another test project's server may take it before this one binds it.
        for (var attempt = 1; ; attempt++)
        {
            using var probe = new TcpListener(IPAddress.Loopback, 0);
            probe.Start();
            var port = ((IPEndPoint)probe.LocalEndpoint).Port;
            probe.Stop();
            var server = new PrivateRedisServer(port, persistent ? Directory.CreateTempSubdirectory("scaleops-redis-").FullName : null);
            try
            {
                await server.RestartAsync();
                return server;
            }
            catch (PortTakenException) when (attempt < 5)
            {
                await server.DisposeAsync();
            }
        }
    }

    /// <summary>
    /// Starts a persistent server (data and <c>nodes.conf</c> in its own temporary directory) on <paramref name="port"/>
    /// with extra redis-server arguments, such as cluster mode (<see cref="PrivateRedisCluster"/>).
    /// </summary>
    /// <param name="port">A free loopback port.</param>
    /// <param name="arguments">Extra arguments, kept for every restart.</param>
    /// <returns>The running server.</returns>
    public static async Task<PrivateRedisServer> StartAsync(int port, params string[] arguments)
    {
        var server = new PrivateRedisServer(port, Directory.CreateTempSubdirectory("scaleops-redis-").FullName, arguments);
        await server.RestartAsync();
        return server;
    }

    /// <summary>Starts the server (again) on the same port.</summary>
    public async Task RestartAsync()
    {
        if (_process is { HasExited: false })
        {
            throw new InvalidOperationException("The private redis-server is already running.");
        }

        var start = new ProcessStartInfo("redis-server")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        string[] persistence = _dataDirectory is null
            ? ["--appendonly", "no"]
            : ["--appendonly", "yes", "--appendfsync", "always", "--dir", _dataDirectory];
        foreach (var arg in new[] { "--bind", "127.0.0.1", "--port", Port.ToString(CultureInfo.InvariantCulture), "--save", "", "--daemonize", "no" }.Concat(persistence).Concat(_arguments))
        {
            start.ArgumentList.Add(arg);
        }

        try
        {
            _process = Process.Start(start) ?? throw new InvalidOperationException("redis-server did not start.");
        }
        catch (System.ComponentModel.Win32Exception ex)
        {
            throw new ServerMissingException($"redis-server is not installed: {ex.Message}. Install it with `{TestServers.StartCommand}` (it installs Redis) or apt-get install redis-server.", ex);
        }

        _process.OutputDataReceived += (_, _) => { };
        _process.ErrorDataReceived += (_, _) => { };
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
        await TestSignal.UntilAsync(async () =>
        {
            try
            {
                await TcpServer.CheckAsync("private redis", "127.0.0.1", Port);
                return true;
            }
            catch (ServerMissingException)
            {
                return false;
            }
        }, $"private redis-server on port {Port} to listen", TimeSpan.FromSeconds(15));

        // Listening is not ready: a server that reloads its data answers LOADING until it is done.
        await TestSignal.UntilAsync(PongAsync, $"private redis-server on port {Port} to load its data", TimeSpan.FromSeconds(15));

        // What answered must be this server: when another one holds the port, this one exits ("Address already in
        // use") and the test would stop, pause and restart its own dead process while it uses the other's server.
        var listener = await ListenerProcessIdAsync();
        if (listener != _process.Id)
        {
            if (!_process.HasExited)
            {
                _process.Kill();
            }

            throw new PortTakenException($"The private redis-server could not listen on port {Port}: process {listener} listens there.");
        }
    }

    /// <summary>The <c>process_id</c> of the redis-server that answers on <see cref="Port"/>.</summary>
    private async Task<int> ListenerProcessIdAsync()
    {
        using var client = new TcpClient();
        await client.ConnectAsync("127.0.0.1", Port);
        var stream = client.GetStream();
        await stream.WriteAsync("INFO server\r\n"u8.ToArray());
        var reply = new System.Text.StringBuilder();
        var buffer = new byte[4096];
        Match found;
        while (!(found = Regex.Match(reply.ToString(), @"process_id:(\d+)\r\n")).Success)
        {
            var read = await stream.ReadAsync(buffer).AsTask().WaitAsync(TimeSpan.FromSeconds(5));
            if (read == 0)
            {
                throw new InvalidOperationException($"The redis-server on port {Port} closed the connection before its INFO named its process.");
            }

            reply.Append(System.Text.Encoding.ASCII.GetString(buffer, 0, read));
        }

        return int.Parse(found.Groups[1].Value, CultureInfo.InvariantCulture);
    }

    /// <summary>Another process listens on the server's port.</summary>
    private sealed class PortTakenException(string message) : InvalidOperationException(message);

    private async Task<bool> PongAsync()
    {
        try
        {
            using var client = new TcpClient();
            await client.ConnectAsync("127.0.0.1", Port);
            var stream = client.GetStream();
            await stream.WriteAsync("PING\r\n"u8.ToArray());
            var buffer = new byte[64];
            var read = await stream.ReadAsync(buffer).AsTask().WaitAsync(TimeSpan.FromSeconds(2));
            return read >= 5 && System.Text.Encoding.ASCII.GetString(buffer, 0, read).StartsWith("+PONG", StringComparison.Ordinal);
        }
        catch (Exception ex) when (ex is SocketException or IOException or TimeoutException)
        {
            return false;
        }
    }

    /// <summary>Kills the server (an outage: connections are refused).</summary>
    public async Task StopAsync()
    {
        if (_process is { HasExited: false } process)
        {
            process.Kill();
            await process.WaitForExitAsync().WaitAsync("private redis-server to exit", TimeSpan.FromSeconds(15));
        }
    }

    /// <summary>Freezes the server (SIGSTOP): connections stay open but nothing answers.</summary>
    public Task PauseAsync() => SignalAsync("-STOP");

    /// <summary>Resumes a paused server (SIGCONT).</summary>
    public Task ResumeAsync() => SignalAsync("-CONT");

    public async ValueTask DisposeAsync()
    {
        if (_process is { HasExited: false })
        {
            await ResumeAsync();
            await StopAsync();
        }

        _process?.Dispose();
        if (_dataDirectory is not null)
        {
            Directory.Delete(_dataDirectory, recursive: true);
        }
    }

    private async Task SignalAsync(string signal)
    {
        if (_process is not { HasExited: false } process)
        {
            // Doing nothing would leave the test with a server that refuses connections where it expects one that
            // hangs (or answers): it would pass or fail for the wrong reason.
            var state = _process is null ? "was never started" : $"exited with code {_process.ExitCode}";
            throw new InvalidOperationException(
                $"kill {signal}: the private redis-server on port {Port} is not running (it {state}).");
        }

        using var kill = Process.Start("kill", [signal, process.Id.ToString(CultureInfo.InvariantCulture)]);
        await kill.WaitForExitAsync().WaitAsync($"kill {signal} {process.Id}", TimeSpan.FromSeconds(10));
    }
}
