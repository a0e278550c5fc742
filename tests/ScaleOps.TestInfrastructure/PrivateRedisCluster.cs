using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.Linq;
using System.Net;
using System.Net.Sockets;
using System.Threading.Tasks;

namespace ScaleOps.TestInfrastructure;

/// <summary>
/// A Redis Cluster owned by one test (three masters, no replicas, as <c>scripts/servers.d/redis-cluster.sh</c> makes the
/// shared one): each node a <see cref="PrivateRedisServer"/> on free loopback ports (its bus on port + 10000), persistent,
/// so a node stopped and restarted comes back with its data and its place in the cluster. Nodes are stopped and restarted
/// by their own PIDs only; the shared cluster is never touched.
/// </summary>
public sealed class PrivateRedisCluster : IAsyncDisposable
{
    private PrivateRedisCluster(IReadOnlyList<PrivateRedisServer> nodes) => Nodes = nodes;

    /// <summary>The nodes, in the order of <see cref="Endpoints"/>.</summary>
    public IReadOnlyList<PrivateRedisServer> Nodes { get; }

    /// <summary>The seed endpoints, as a StackExchange.Redis connection string.</summary>
    public string Endpoints => string.Join(",", Nodes.Select(n => n.Endpoint));

    /// <summary>Starts the nodes, creates the cluster and waits until every node reports <c>cluster_state:ok</c>.</summary>
    /// <param name="nodeTimeout">The cluster's node timeout: how long a node is unreachable before the others mark it failed.</param>
    /// <returns>The running cluster.</returns>
    public static async Task<PrivateRedisCluster> StartAsync(TimeSpan nodeTimeout)
    {
        var nodes = new List<PrivateRedisServer>();
        try
        {
            foreach (var port in FreePorts(3))
            {
                nodes.Add(await PrivateRedisServer.StartAsync(
                    port, "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
                    "--cluster-node-timeout", ((long)nodeTimeout.TotalMilliseconds).ToString(CultureInfo.InvariantCulture)));
            }

            var cluster = new PrivateRedisCluster(nodes);
            var create = await RedisCliAsync(["--cluster", "create", .. nodes.Select(n => n.Endpoint), "--cluster-replicas", "0", "--cluster-yes"]);
            if (create.ExitCode != 0)
            {
                throw new InvalidOperationException($"redis-cli --cluster create failed: {create.Output}");
            }

            await cluster.OkAsync();
            return cluster;
        }
        catch
        {
            foreach (var node in nodes)
            {
                await node.DisposeAsync();
            }

            throw;
        }
    }

    /// <summary>Waits until every node reports <c>cluster_state:ok</c> (after a create, or nodes coming back).</summary>
    /// <returns>A task.</returns>
    public Task OkAsync() => TestSignal.UntilAsync(async () =>
    {
        foreach (var node in Nodes)
        {
            var info = await RedisCliAsync(["-p", node.Port.ToString(CultureInfo.InvariantCulture), "cluster", "info"]);
            if (!info.Output.Contains("cluster_state:ok", StringComparison.Ordinal))
            {
                return false;
            }
        }

        return true;
    }, "the private Redis Cluster to report cluster_state:ok on every node");

    public async ValueTask DisposeAsync()
    {
        foreach (var node in Nodes)
        {
            await node.DisposeAsync();
        }
    }

    /// <summary>Ports free on loopback whose bus port (+ 10000) is free as well.</summary>
    private static IEnumerable<int> FreePorts(int count)
    {
        var found = new List<int>();
        for (var port = 20000 + Random.Shared.Next(0, 9000); found.Count < count && port < 30000; port++)
        {
            if (IsFree(port) && IsFree(port + 10000))
            {
                found.Add(port);
                port += 3;
            }
        }

        return found.Count == count ? found : throw new InvalidOperationException("No free loopback ports for a private Redis Cluster.");
    }

    private static bool IsFree(int port)
    {
        try
        {
            using var listener = new TcpListener(IPAddress.Loopback, port);
            listener.Start();
            listener.Stop();
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }

    private static async Task<(int ExitCode, string Output)> RedisCliAsync(string[] arguments)
    {
        var start = new ProcessStartInfo("redis-cli") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        start.ArgumentList.Add("-h");
        start.ArgumentList.Add("127.0.0.1");
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        using var process = Process.Start(start) ?? throw new InvalidOperationException("redis-cli did not start.");
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync().WaitAsync("redis-cli " + string.Join(' ', arguments), TimeSpan.FromSeconds(30));
        return (process.ExitCode, await output + await error);
    }
}
