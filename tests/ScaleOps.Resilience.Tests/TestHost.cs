using System;
using System.Collections.Generic;
using System.Threading;
using System.Threading.Tasks;
using Microsoft.Extensions.DependencyInjection;
using ScaleOps.Resilience.RateLimiting;
using ScaleOps.Tenancy;

namespace ScaleOps.Resilience.Tests;

/// <summary>Builds a service provider with ScaleOps and AddResilience, as a host would.</summary>
internal static class TestHost
{
    /// <summary>
    /// Client timeouts of 10 s instead of the limiter's fail-fast 1 s, for tests about what Redis decides: on a machine
    /// running every suite at once a fresh connection's first call can take over 1 s, and the failure mode would decide
    /// it instead. A stopped server still fails at once (the connection drops; nothing waits for a timeout).
    /// </summary>
    public const string PatientRedis = ",connectTimeout=10000,asyncTimeout=10000,syncTimeout=10000";

    public static ServiceProvider Build(
        Action<ResilienceOptions> configure,
        TimeProvider? time = null,
        string? postgres = null,
        Action<IServiceCollection>? services = null)
    {
        var collection = new ServiceCollection();
        collection.AddLogging();
        if (time is not null)
        {
            collection.AddSingleton(time);
        }

        services?.Invoke(collection);
        collection.AddScaleOps(o => o.ConnectionString = postgres ?? "Host=127.0.0.1").AddResilience(configure);
        return collection.BuildServiceProvider();
    }

    public static void Plan(this ResilienceOptions options, string name, params (int PermitLimit, TimeSpan Window, int? Burst)[] rules)
    {
        var list = new List<RateLimitRule>();
        foreach (var (permitLimit, window, burst) in rules)
        {
            list.Add(new RateLimitRule { PermitLimit = permitLimit, Window = window, Burst = burst });
        }

        options.RateLimiting.Plans[name] = list;
    }
}

/// <summary>A host-side plan resolver: a dictionary, answering asynchronously like a database would.</summary>
internal sealed class TestPlans(Dictionary<string, string> plans, bool synchronous = true) : ITenantPlanResolver
{
    public int Calls;

    public async ValueTask<string?> GetPlanAsync(TenantId tenant, CancellationToken cancellationToken)
    {
        Interlocked.Increment(ref Calls);
        if (!synchronous)
        {
            await Task.Yield();
        }

        return plans.TryGetValue(tenant.ToString(), out var plan) ? plan : null;
    }
}
