using System;
using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Threading;
using System.Threading.Tasks;

namespace ScaleOps.TestInfrastructure;

/// <summary>
/// A local TCP endpoint in front of a real server, for network faults the real servers cannot be made to show:
/// <see cref="ProxyMode.Forward"/> passes connections through, <see cref="ProxyMode.Refuse"/> closes them at once, and
/// <see cref="ProxyMode.BlackHole"/> accepts them and never answers (a host that silently drops traffic). Counts the
/// connections it accepted.
/// </summary>
public sealed class FaultyTcpProxy : IAsyncDisposable
{
    private readonly TcpListener _listener;
    private readonly string _targetHost;
    private readonly int _targetPort;
    private readonly CancellationTokenSource _stop = new();
    private readonly ConcurrentBag<IDisposable> _held = [];
    private readonly Task _accepting;
    private int _accepted;
    private int _stallEpoch;

    /// <param name="targetHost">The real server's host.</param>
    /// <param name="targetPort">The real server's port.</param>
    /// <param name="mode">What the proxy does with a connection (changeable later through <see cref="Mode"/>).</param>
    /// <param name="port">The loopback port to listen on; 0 picks a free one.</param>
    public FaultyTcpProxy(string targetHost, int targetPort, ProxyMode mode, int port = 0)
    {
        _listener = new TcpListener(IPAddress.Loopback, port);
        _targetHost = targetHost;
        _targetPort = targetPort;
        Mode = mode;
        _listener.Start();
        _accepting = AcceptAsync();
    }

    public enum ProxyMode
    {
        Forward,
        Refuse,
        BlackHole,
    }

    public ProxyMode Mode { get; set; }

    public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

    public int Accepted => Volatile.Read(ref _accepted);

    private async Task AcceptAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            TcpClient client;
            try
            {
                client = await _listener.AcceptTcpClientAsync(_stop.Token);
            }
            catch (Exception ex) when (ex is OperationCanceledException or ObjectDisposedException or SocketException)
            {
                return;
            }

            Interlocked.Increment(ref _accepted);
            switch (Mode)
            {
                case ProxyMode.Refuse:
                    client.Client.LingerState = new LingerOption(true, 0);
                    client.Dispose();
                    break;
                case ProxyMode.BlackHole:
                    _held.Add(client);
                    break;
                default:
                    _ = ForwardAsync(client);
                    break;
            }
        }
    }

    private async Task ForwardAsync(TcpClient client)
    {
        using (client)
        using (var server = new TcpClient())
        {
            try
            {
                await server.ConnectAsync(_targetHost, _targetPort, _stop.Token);
                await using var fromClient = client.GetStream();
                await using var toServer = server.GetStream();
                var epoch = Volatile.Read(ref _stallEpoch);
                await Task.WhenAny(PumpAsync(fromClient, toServer, epoch), PumpAsync(toServer, fromClient, epoch));
            }
            catch (Exception ex) when (ex is OperationCanceledException or ObjectDisposedException or SocketException or System.IO.IOException)
            {
                // The connection ends; the proxied client sees it closed.
            }
        }
    }

    /// <summary>
    /// Stops every connection forwarded so far from passing bytes, both ways and for good, without closing it (a path
    /// that died without a word: a failover that moved the address, a NAT dropping an idle flow). Connections made after
    /// it follow <see cref="Mode"/> as before.
    /// </summary>
    public void StallExisting() => Interlocked.Increment(ref _stallEpoch);

    private async Task PumpAsync(System.IO.Stream from, System.IO.Stream to, int epoch)
    {
        var buffer = new byte[16 * 1024];
        while (true)
        {
            var read = await from.ReadAsync(buffer, _stop.Token);
            if (read == 0)
            {
                return;
            }

            if (Volatile.Read(ref _stallEpoch) != epoch)
            {
                await Task.Delay(Timeout.Infinite, _stop.Token); // stalled: the bytes go nowhere, the connection stays open
            }

            await to.WriteAsync(buffer.AsMemory(0, read), _stop.Token);
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Stop();
        await _accepting;
        foreach (var held in _held)
        {
            held.Dispose();
        }

        _stop.Dispose();
    }
}
