using System;
using System.Globalization;
using System.Threading.Tasks;

namespace ScaleOps.TestInfrastructure;

/// <summary>
/// The local Redis Cluster started by <c>scripts/servers.sh start</c> (plug-in <c>scripts/servers.d/redis-cluster.sh</c>):
/// three masters on loopback, named by <c>SCALEOPS_REDIS_CLUSTER</c>.
/// </summary>
public static class RedisClusterServer
{
    /// <summary>The cluster's seed endpoints (<c>host:port,host:port,...</c>), each checked to be listening.</summary>
    /// <returns>A StackExchange.Redis connection string.</returns>
    public static async Task<string> EndpointsAsync()
    {
        var endpoints = TestServers.Require("SCALEOPS_REDIS_CLUSTER", "Redis Cluster");
        foreach (var endpoint in endpoints.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var colon = endpoint.LastIndexOf(':');
            await TcpServer.CheckAsync("Redis Cluster node", endpoint[..colon], int.Parse(endpoint[(colon + 1)..], CultureInfo.InvariantCulture));
        }

        return endpoints;
    }
}
