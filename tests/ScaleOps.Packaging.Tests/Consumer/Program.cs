// A service that uses the ScaleOps packages the way a user adds them: PackageReferences to the packed .nupkg files,
// outside the repository (ScaleOps.Packaging.Tests writes this project to a temporary folder, builds and runs it).
// It starts a host (migrations run), then does one thing with each package against the servers and prints one line per
// package. Any failure ends it with exit code 1.
using System.Threading.RateLimiting;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Npgsql;
using ScaleOps.Caching;
using ScaleOps.Data;
using ScaleOps.Jobs;
using ScaleOps.Partitioning.Lifecycle;
using ScaleOps.Resilience.RateLimiting;
using ScaleOps.Rls.EntityFrameworkCore;
using ScaleOps.Tenancy;
using StackExchange.Redis;

try
{
    using var bound = new CancellationTokenSource(TimeSpan.FromSeconds(90));
    await Consumer.Service.RunAsync(args, bound.Token);
    Console.WriteLine("done");
    return 0;
}
catch (Exception ex)
{
    Console.WriteLine($"FAILED: {ex}");
    return 1;
}

namespace Consumer
{
    public static class Service
    {
        private static readonly TenantId Acme = TenantId.Parse("acme");
        private static readonly TenantId Globex = TenantId.Parse("globex");

        public static async Task RunAsync(string[] args, CancellationToken ct)
        {
            var builder = Host.CreateApplicationBuilder(args);
            var prefix = builder.Configuration["Consumer:KeyPrefix"] ?? throw new InvalidOperationException("Consumer:KeyPrefix is not set.");
            var redis = builder.Configuration.GetConnectionString("Redis") ?? throw new InvalidOperationException("ConnectionStrings:Redis is not set.");

            builder.Services.AddScaleOps()
                .AddMigrations("consumer", typeof(Service).Assembly, "Consumer.Sql.")
                .AddRls(rls => rls.ProtectTenantTable("app", "notes"))
                .AddRlsEntityFrameworkCore()
                .AddJobs()
                .AddHandler<Ping, PingHandler>()
                .AddPartitioning(partitioning =>
                {
                    // Maintenance runs once, below, rather than at start-up and on a timer.
                    partitioning.RunMaintenanceOnStart = false;
                    partitioning.MaintenanceInterval = TimeSpan.Zero;
                    partitioning.Tables.Add(new PartitionedTableOptions
                    {
                        Schema = "app", Name = "events", Column = "created_at", Interval = PartitionInterval.Month, Premake = 2,
                    });
                })
                .AddCaching(caching => caching.KeyPrefix = prefix + ":cache")
                .AddResilience(resilience =>
                {
                    resilience.DefaultPlan = "free";
                    resilience.RateLimiting.Store = RateLimiterStore.Redis;
                    resilience.RateLimiting.RedisFailureMode = RedisFailureMode.FailClosed; // no silent local fallback
                    resilience.RateLimiting.RedisKeyPrefix = prefix + ":rl:";
                    resilience.RateLimiting.Plans["free"] = [new RateLimitRule { PermitLimit = 2, Window = TimeSpan.FromMinutes(10) }];
                });
            builder.Services.AddSingleton<PingSignal>();

            using var host = builder.Build();
            await host.StartAsync(ct);
            try
            {
                var services = host.Services;
                var tenants = services.GetRequiredService<ITenantContext>();
                var data = services.GetRequiredService<NpgsqlDataSource>();
                await using var redisClient = await ConnectionMultiplexer.ConnectAsync(redis);

                await MigrationsAsync(data, ct);
                await RowLevelSecurityAsync(tenants, services.GetRequiredService<ITenantDataSource>(), ct);
                _ = services.GetRequiredService<RlsDbCommandInterceptor>(); // ScaleOps.Rls.EntityFrameworkCore resolves with its Rls
                await JobsAsync(tenants, services.GetRequiredService<IJobClient>(), services.GetRequiredService<PingSignal>(), ct);
                await CacheAsync(tenants, services.GetRequiredService<ITenantCache>(), redisClient, prefix, ct);
                await RateLimitAsync(services.GetRequiredService<PartitionedRateLimiter<TenantId>>(), redisClient, prefix, ct);
                await PartitioningAsync(services.GetRequiredService<IPartitionMaintenance>(), data, ct);
            }
            finally
            {
                await host.StopAsync(CancellationToken.None);
            }
        }

        private static async Task MigrationsAsync(NpgsqlDataSource data, CancellationToken ct)
        {
            var applied = new List<string>();
            await using var command = data.CreateCommand(
                "SELECT component, count(*) FROM scaleops.schema_migrations GROUP BY component ORDER BY component");
            await using var reader = await command.ExecuteReaderAsync(ct);
            while (await reader.ReadAsync(ct))
            {
                applied.Add($"{reader.GetString(0)} {reader.GetInt64(1)}");
            }

            Console.WriteLine($"migrations: {string.Join(", ", applied)}");
        }

        private static async Task RowLevelSecurityAsync(ITenantContext tenants, ITenantDataSource tenantData, CancellationToken ct)
        {
            using (tenants.BeginScope(Acme))
            {
                await using var connection = await tenantData.OpenConnectionAsync(cancellationToken: ct);
                await using var insert = connection.CreateBatch("INSERT INTO app.notes (tenant_id, body) VALUES ($1, $2)", "acme", "first note");
                await insert.ExecuteNonQueryAsync(ct);
            }

            Console.WriteLine($"rls: acme sees {await CountNotesAsync(tenants, tenantData, Acme, ct)} note(s), "
                + $"globex sees {await CountNotesAsync(tenants, tenantData, Globex, ct)}");
        }

        private static async Task<long> CountNotesAsync(ITenantContext tenants, ITenantDataSource tenantData, TenantId tenant, CancellationToken ct)
        {
            using var scope = tenants.BeginScope(tenant);
            await using var connection = await tenantData.OpenConnectionAsync(cancellationToken: ct);
            await using var count = connection.CreateBatch("SELECT count(*) FROM app.notes"); // no WHERE: the policy filters
            return (long)(await count.ExecuteScalarAsync(ct))!;
        }

        private static async Task JobsAsync(ITenantContext tenants, IJobClient jobs, PingSignal signal, CancellationToken ct)
        {
            long? id;
            using (tenants.BeginScope(Acme))
            {
                id = await jobs.EnqueueAsync(new Ping("hello"), cancellationToken: ct);
            }

            var ran = await signal.Ran.Task.WaitAsync(TimeSpan.FromSeconds(30), ct);
            Console.WriteLine($"jobs: job {id} ran as job {ran.Id} for tenant {ran.Tenant} with payload {ran.Message}");
        }

        private static async Task CacheAsync(ITenantContext tenants, ITenantCache cache, ConnectionMultiplexer redis, string prefix, CancellationToken ct)
        {
            using var scope = tenants.BeginScope(Acme);
            var options = new CacheEntryOptions { Expiration = TimeSpan.FromMinutes(1) }; // the test's key does not linger
            var first = await cache.GetOrSetEntryAsync("greeting", _ => ValueTask.FromResult("hello"), options, ct);
            var second = await cache.GetOrSetEntryAsync("greeting", _ => ValueTask.FromResult("not this"), options, ct);
            var inRedis = await CountKeysAsync(redis, prefix + ":cache:*:k:greeting");
            Console.WriteLine($"cache: {first.Value} from {first.Source}, then {second.Value} from {second.Source}; "
                + $"redis in use: {!cache.GetStatus().IsDegraded}, redis keys of the entry: {inRedis}");
        }

        private static async Task RateLimitAsync(PartitionedRateLimiter<TenantId> limiter, ConnectionMultiplexer redis, string prefix, CancellationToken ct)
        {
            var outcomes = new List<string>();
            for (var i = 0; i < 3; i++)
            {
                using var lease = await limiter.AcquireAsync(Acme, 1, ct);
                outcomes.Add(lease.IsAcquired ? "acquired" : "refused");
            }

            Console.WriteLine($"ratelimit: {string.Join(", ", outcomes)}; redis keys: {await CountKeysAsync(redis, prefix + ":rl:*") > 0}");
        }

        private static async Task PartitioningAsync(IPartitionMaintenance maintenance, NpgsqlDataSource data, CancellationToken ct)
        {
            var result = await maintenance.RunMaintenanceAsync(cancellationToken: ct);
            var created = result.Actions
                .Where(a => a.Table == "\"app\".\"events\"" && a.Kind == PartitionActionKind.Create)
                .Select(a => a.Partition).Order(StringComparer.Ordinal).ToList();
            await using var insert = data.CreateCommand("INSERT INTO app.events (created_at, name) VALUES (now(), 'started') RETURNING tableoid::regclass::text");
            var partition = (string)(await insert.ExecuteScalarAsync(ct))!;
            Console.WriteLine($"partitioning: ran {result.Ran}, created {string.Join(" ", created)}; failures {result.Failures.Count}; "
                + $"a row of now() went into {partition}");
        }

        private static async Task<int> CountKeysAsync(ConnectionMultiplexer redis, string pattern)
        {
            var count = 0;
            foreach (var server in redis.GetServers())
            {
                await foreach (var _ in server.KeysAsync(pattern: pattern, pageSize: 1000))
                {
                    count++;
                }
            }

            return count;
        }
    }

    [JobKind("consumer.ping")]
    public sealed record Ping(string Message);

    public sealed record PingRun(long Id, string Tenant, string Message);

    public sealed class PingSignal
    {
        public TaskCompletionSource<PingRun> Ran { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }

    public sealed class PingHandler(PingSignal signal, ITenantContext tenants) : IJobHandler<Ping>
    {
        public Task HandleAsync(Ping payload, JobContext context, CancellationToken cancellationToken)
        {
            signal.Ran.TrySetResult(new PingRun(context.Id, tenants.RequireTenant().Value, payload.Message));
            return Task.CompletedTask;
        }
    }
}
