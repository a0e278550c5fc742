using System;
using System.Linq;
using System.Threading.Tasks;
using ScaleOps.TestInfrastructure;

namespace ScaleOps.Resilience.Tests.RateLimiting;

/// <summary>
/// The distributed limiter suite again, on the local Redis Cluster of <c>scripts/servers.d/redis-cluster.sh</c>
/// (<c>SCALEOPS_REDIS_CLUSTER</c>): one key per decision, the tenant as its hash tag, so no CROSSSLOT error.
/// </summary>
[Collection(HammerCollection.Name)]
public class RedisClusterTenantRateLimiterTests : RedisTenantRateLimiterTests
{
    protected override async Task<string> EndpointAsync()
    {
        var endpoints = TestServers.Require("SCALEOPS_REDIS_CLUSTER", "Redis Cluster");
        foreach (var endpoint in endpoints.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var colon = endpoint.LastIndexOf(':');
            await TcpServer.CheckAsync("Redis Cluster", endpoint[..colon], int.Parse(endpoint[(colon + 1)..], System.Globalization.CultureInfo.InvariantCulture));
        }

        return endpoints;
    }
}
