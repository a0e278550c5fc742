using System;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Threading.Tasks;
using ScaleOps.TestInfrastructure;

namespace ScaleOps.Resilience.Tests;

/// <summary>
/// A redis-server of this test class alone, on a free loopback port, without persistence: the outage tests stop it
/// (by its PID) without disturbing the shared server other classes use in parallel.
/// </summary>
internal sealed class PrivateRedis : IAsyncDisposable
{
    private Process? _process;

    private PrivateRedis(int port) => Port = port;

    public int Port { get; }

    public string Endpoint => $"127.0.0.1:{Port}";

    public static async Task<PrivateRedis> StartAsync()
    {
        using var probe = new TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        var port = ((IPEndPoint)probe.LocalEndpoint).Port;
        probe.Stop();
        var redis = new PrivateRedis(port);
        await redis.RestartAsync();
        return redis;
    }

    /// <summary>Starts the server (again) on the same port.</summary>
    public async Task RestartAsync()
    {
        var info = new ProcessStartInfo("redis-server")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var arg in new[] { "--bind", "127.0.0.1", "--port", Port.ToString(System.Globalization.CultureInfo.InvariantCulture), "--save", "", "--appendonly", "no" })
        {
            info.ArgumentList.Add(arg);
        }

        try
        {
            _process = Process.Start(info) ?? throw new InvalidOperationException("redis-server did not start");
        }
        catch (System.ComponentModel.Win32Exception ex)
        {
            throw new ServerMissingException($"redis-server is not installed: run `{TestServers.StartCommand}` (it installs Redis) first.", ex);
        }

        _process.OutputDataReceived += (_, _) => { };
        _process.BeginOutputReadLine();
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
        }, $"private redis-server listening on {Endpoint}");
    }

    /// <summary>Kills the server by its PID and waits for it to exit.</summary>
    public async Task StopAsync()
    {
        if (_process is { HasExited: false })
        {
            _process.Kill();
            await _process.WaitForExitAsync().WaitAsync($"private redis-server (pid {_process.Id}) to exit");
        }

        _process?.Dispose();
        _process = null;
    }

    public async ValueTask DisposeAsync() => await StopAsync();
}
