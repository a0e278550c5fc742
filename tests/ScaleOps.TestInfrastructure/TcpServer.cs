using System;
using System.Net.Sockets;
using System.Threading.Tasks;

namespace ScaleOps.TestInfrastructure;

/// <summary>Checks that a loopback server (Redis, Azurite) is listening, failing with the fixing command.</summary>
public static class TcpServer
{
    /// <summary>Redis <c>host:port</c>, checked.</summary>
    /// <returns>The endpoint.</returns>
    public static async Task<string> RedisAsync()
    {
        var endpoint = TestServers.Require("SCALEOPS_REDIS", "Redis");
        var colon = endpoint.LastIndexOf(':');
        await CheckAsync("Redis", endpoint[..colon], int.Parse(endpoint[(colon + 1)..], System.Globalization.CultureInfo.InvariantCulture));
        return endpoint;
    }

    /// <summary>The Azurite Blob connection string, checked.</summary>
    /// <returns>The connection string.</returns>
    public static async Task<string> BlobAsync()
    {
        var connectionString = TestServers.Require("SCALEOPS_BLOB", "Azurite (Blob storage)");
        var start = connectionString.IndexOf("BlobEndpoint=", StringComparison.Ordinal) + "BlobEndpoint=".Length;
        var end = connectionString.IndexOf(';', start);
        var uri = new Uri(end < 0 ? connectionString[start..] : connectionString[start..end]);
        await CheckAsync("Azurite (Blob storage)", uri.Host, uri.Port);
        return connectionString;
    }

    /// <summary>Connects once to <paramref name="host"/>:<paramref name="port"/>.</summary>
    /// <param name="what">The server's name.</param>
    /// <param name="host">The host.</param>
    /// <param name="port">The port.</param>
    /// <returns>A task.</returns>
    public static async Task CheckAsync(string what, string host, int port)
    {
        using var client = new TcpClient();
        try
        {
            await client.ConnectAsync(host, port).WaitAsync(TimeSpan.FromSeconds(5));
        }
        catch (Exception ex) when (ex is SocketException or TimeoutException)
        {
            throw new ServerMissingException($"{what} is not listening on {host}:{port}: {ex.Message}. Start it with `{TestServers.StartCommand}`.", ex);
        }
    }
}
