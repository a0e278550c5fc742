using System;
using System.Threading.Tasks;
using ScaleOps.TestInfrastructure;

namespace ScaleOps.Caching.Tests.Support;

/// <summary>Which Redis a suite runs against; the suite is written once (<see cref="CacheSuite"/>).</summary>
public abstract class RedisTarget : IAsyncLifetime
{
    public string ConnectionString { get; private set; } = "";

    public abstract string Name { get; }

    public async Task InitializeAsync() => ConnectionString = await ResolveAsync();

    public Task DisposeAsync() => Task.CompletedTask;

    protected abstract Task<string> ResolveAsync();
}

/// <summary>The shared single-node Redis of <c>scripts/servers.sh</c>.</summary>
public sealed class SingleRedis : RedisTarget
{
    public override string Name => "single";

    protected override Task<string> ResolveAsync() => TcpServer.RedisAsync();
}

/// <summary>The local Redis Cluster of <c>scripts/servers.d/redis-cluster.sh</c>.</summary>
public sealed class ClusterRedis : RedisTarget
{
    public override string Name => "cluster";

    protected override Task<string> ResolveAsync() => RedisClusterServer.EndpointsAsync();
}

/// <summary>Unique names so that parallel test classes never share keys on a shared server.</summary>
public static class Unique
{
    public static string Prefix(string target, string test) => $"t:{target}:{test[..Math.Min(test.Length, 48)]}:{Guid.NewGuid().ToString("N")[..12]}";
}
