using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.Threading;
using System.Threading.Tasks;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using ScaleOps.Benchmarks.Soak;
using ScaleOps.Migrations;
using ScaleOps.Resilience;
using ScaleOps.Resilience.Quotas;
using ScaleOps.Resilience.RateLimiting;
using ScaleOps.TestInfrastructure;

// The soak / leak harness of ScaleOps.Caching and ScaleOps.Resilience: a churning tenant population (a sliding window of
// --live tenants, most calls on a few of them, new tenants entering and old ones leaving for good until --tenants were
// seen) drives the cache (GetOrSet, Set, Remove, tag and tenant invalidation), the Redis limiter (leased) and the local
// limiter, quotas (a Day and a standing resource, reserve and release once) and a circuit breaker pipeline, for
// --minutes; every --sample-seconds it samples the process (heap after a full compacting collection, gen2 collections,
// threads, active timers), the per-tenant state the packages keep (read by reflection: internal counts), Redis (DBSIZE,
// used_memory, keys per kind and keys without a TTL under the harness's prefixes) and the quota tables.
// Time is compressed so that every window ends within the run: values expire after 20 s (plus 1 min of fail-safe), the
// cache sweeps every 5 s, plans are cached for 30 s; the limiters' own sweeps run every 10 s and every minute.
// Redis: a private redis-server (loopback, random port, append-only file so that it restarts with its data, stopped and
// started by its own PID) restarted once at --restart-at of the run; --redis shared uses SCALEOPS_REDIS of servers.env
// instead, without a restart (DBSIZE and used_memory are then the whole shared server's; the run's keys are deleted at
// the end). PostgreSQL: SCALEOPS_PG of servers.env, in a database of its own (created and dropped).
//   export SCALEOPS_SERVERS_DIR=/work/main/.servers
//   dotnet run -c Release --project benchmarks/soak -- [--minutes 3] [--sample-seconds 15] [--live 2000] [--tenants 50000]
//       [--workers 8] [--restart-at 0.5] [--redis private|shared]
var settings = SoakSettings.Parse(args);
PrivateRedisServer? privateRedis = null;
string redisEndpoint;
if (settings.SharedRedis)
{
    redisEndpoint = await TcpServer.RedisAsync();
}
else
{
    privateRedis = await PrivateRedisServer.StartAsync(persistent: true);
    redisEndpoint = privateRedis.Endpoint;
}

var run = $"soak{Environment.ProcessId}";
var database = $"soak_{Environment.ProcessId}";
await PostgresServer.ExecuteAsync($"CREATE DATABASE \"{database}\"");
var postgres = PostgresServer.ConnectionStringFor(database);
var redis = redisEndpoint + ",abortConnect=false,connectTimeout=5000";
try
{
    var plans = new HashPlans();
    await using var app = Build(services =>
    {
        services.AddSingleton<ITenantPlanResolver>(plans);
        services.AddScaleOps(o => o.ConnectionString = postgres)
            .AddCaching(o =>
            {
                o.RedisConnectionString = redis;
                o.KeyPrefix = $"{run}:cache";
                o.DefaultExpiration = TimeSpan.FromSeconds(20);
                o.FailSafeMaxDuration = TimeSpan.FromMinutes(1); // time compressed: values stay in Redis 20 s + 1 min, not 1 h
                o.SweepInterval = TimeSpan.FromSeconds(5);
                o.MaxMemoryEntries = 20_000;
                o.RedisTimeout = TimeSpan.FromSeconds(2);
                o.DistributedStampedeProtection = true;
            })
            .AddResilience(o => Configure(o, redis, run, RateLimiterStore.Redis));
    });
    await using var local = Build(services =>
    {
        services.AddSingleton<ITenantPlanResolver>(plans);
        services.AddScaleOps(o => o.ConnectionString = postgres).AddResilience(o => Configure(o, redis, run, RateLimiterStore.Local));
    });
    await app.GetRequiredService<IScaleOpsMigrator>().MigrateAsync();
    var hosted = app.GetServices<IHostedService>();
    foreach (var service in hosted)
    {
        await service.StartAsync(CancellationToken.None);
    }

    var population = new Population(settings);
    var workload = new Workload(app, local, population);
    await using var sampler = new Sampler(app, local, redisEndpoint, postgres, run, population);
    Console.WriteLine($"# Soak: {settings.Minutes} min, {settings.Workers} workers, {settings.Live:N0} live tenants, at most {settings.Tenants:N0} "
        + $"seen, sample every {settings.SampleSeconds} s, Redis {(settings.SharedRedis ? "shared " + redisEndpoint : "private (restarted at " + settings.RestartAt.ToString("P0", CultureInfo.InvariantCulture) + ")")}");
    Console.WriteLine(Sample.Header);

    using var stop = new CancellationTokenSource(TimeSpan.FromMinutes(settings.Minutes));
    var clock = Stopwatch.StartNew();
    var churn = population.ChurnAsync(clock, stop.Token);
    var workers = workload.Start(settings.Workers, stop.Token);
    var samples = new List<Sample>();
    var restarted = settings.SharedRedis;
    samples.Add(await sampler.TakeAsync(clock.Elapsed));
    Console.WriteLine(samples[^1].Row);
    while (!stop.IsCancellationRequested)
    {
        try
        {
            await Task.Delay(TimeSpan.FromSeconds(settings.SampleSeconds), stop.Token);
        }
        catch (OperationCanceledException)
        {
            break;
        }

        if (!restarted && clock.Elapsed >= TimeSpan.FromMinutes(settings.Minutes * settings.RestartAt))
        {
            restarted = true;
            await privateRedis!.StopAsync();
            Console.WriteLine($"# {clock.Elapsed.TotalSeconds:F0} s: redis-server stopped");
            await Task.Delay(TimeSpan.FromSeconds(3)); // the outage the clients see
            await privateRedis.RestartAsync();
            Console.WriteLine($"# {clock.Elapsed.TotalSeconds:F0} s: redis-server started again");
        }

        samples.Add(await sampler.TakeAsync(clock.Elapsed));
        Console.WriteLine(samples[^1].Row);
    }

    await Task.WhenAll(workers);
    await churn;
    await sampler.SettleAsync();
    var final = await sampler.TakeAsync(clock.Elapsed);
    samples.Add(final);
    Console.WriteLine(final.Row + " (after the load stopped: 2 x 65 s, one call each)");
    Console.WriteLine();
    Console.WriteLine(Sample.Summary(samples[1], samples[^2], final));
    Console.WriteLine($"# operations {workload.Operations:N0}, failures {workload.Failures:N0} (first: {workload.FirstFailure ?? "none"})");
    foreach (var service in hosted)
    {
        await service.StopAsync(CancellationToken.None);
    }

    if (settings.SharedRedis)
    {
        await sampler.DeleteRunKeysAsync(); // the generation keys would stay on the shared server for good
    }
}
finally
{
    await PostgresServer.DropDatabaseAsync(database);
    if (privateRedis is not null)
    {
        await privateRedis.DisposeAsync();
    }
}

static ServiceProvider Build(Action<IServiceCollection> configure)
{
    var services = new ServiceCollection();
    services.AddLogging();
    configure(services);
    return services.BuildServiceProvider();
}

static void Configure(ResilienceOptions o, string redis, string run, RateLimiterStore store)
{
    o.RedisConnectionString = redis;
    o.DefaultPlan = "free";
    o.RateLimiting.Store = store;
    o.RateLimiting.LeaseSize = store == RateLimiterStore.Redis ? 5 : 1;
    o.RateLimiting.RedisKeyPrefix = $"{run}:rl:";
    o.RateLimiting.PlanCacheDuration = TimeSpan.FromSeconds(30);
    o.RateLimiting.Plans["free"] =
    [
        new RateLimitRule { PermitLimit = 20, Window = TimeSpan.FromSeconds(1) },
        new RateLimitRule { PermitLimit = 2_000, Window = TimeSpan.FromMinutes(1) },
    ];
    o.RateLimiting.Plans["pro"] = [new RateLimitRule { PermitLimit = 200, Window = TimeSpan.FromSeconds(1) }];
    o.Quotas.Resources["jobs"] = QuotaPeriod.Day;
    o.Quotas.Resources["documents"] = QuotaPeriod.None;
    o.Quotas.Plans["free"] = new() { ["jobs"] = 1_000_000, ["documents"] = 1_000_000 };
    o.Quotas.Plans["pro"] = new() { ["jobs"] = 10_000_000, ["documents"] = 10_000_000 };
}
