using System;
using System.Collections.Generic;
using System.Linq;
using System.Threading.RateLimiting;
using System.Threading.Tasks;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging.Testing;
using Microsoft.Extensions.Time.Testing;
using Microsoft.FeatureManagement;
using Polly.CircuitBreaker;
using ScaleOps.Resilience.CircuitBreakers;
using ScaleOps.Resilience.RateLimiting;
using ScaleOps.Tenancy;
using ScaleOps.TestInfrastructure;
using StackExchange.Redis;

namespace ScaleOps.Resilience.Tests;

/// <summary>
/// Settings given only as the README's configuration keys (an appsettings file's content, in memory) drive the
/// behaviour they name, in a generic host: not only bound, but taking effect.
/// </summary>
public partial class ConfigurationEndToEndTests
{
    private static IHost Host(Dictionary<string, string?> settings, Action<IServiceCollection>? services = null)
    {
        var builder = Microsoft.Extensions.Hosting.Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Configuration.AddInMemoryCollection(settings);
        services?.Invoke(builder.Services);
        builder.Services.AddScaleOps(o =>
        {
            o.ConnectionString = "Host=127.0.0.1";
            o.ApplyMigrationsOnStart = false; // these tests need no database
        }).AddResilience();
        return builder.Build();
    }

    [Fact]
    public async Task The_redis_store_prefix_plan_burst_failure_mode_and_break_duration_from_configuration_drive_the_limiter()
    {
        await using var redis = await PrivateRedisServer.StartAsync();
        using var host = Host(new()
        {
            ["ConnectionStrings:Redis"] = redis.Endpoint + TestHost.PatientRedis,
            ["ScaleOps:Resilience:DefaultPlan"] = "free",
            ["ScaleOps:Resilience:RateLimiting:Store"] = "Redis",
            ["ScaleOps:Resilience:RateLimiting:RedisFailureMode"] = "FailClosed",
            ["ScaleOps:Resilience:RateLimiting:RedisKeyPrefix"] = "cfg:rl:",
            ["ScaleOps:Resilience:RateLimiting:Plans:free:0:PermitLimit"] = "2",
            ["ScaleOps:Resilience:RateLimiting:Plans:free:0:Window"] = "00:01:00",
            ["ScaleOps:Resilience:RateLimiting:Plans:free:0:Burst"] = "3",
            ["ScaleOps:Resilience:RateLimiting:Plans:free:1:PermitLimit"] = "1000",
            ["ScaleOps:Resilience:RateLimiting:Plans:free:1:Window"] = "1.00:00:00",
            ["ScaleOps:Resilience:CircuitBreakers:redis:BreakDuration"] = "00:00:07",
        });
        await host.StartAsync();
        var limiter = host.Services.GetRequiredService<PartitionedRateLimiter<TenantId>>();
        var tenant = new TenantId("cfg-acme");

        for (var i = 0; i < 3; i++) // the burst of the first rule, not its PermitLimit
        {
            using var lease = await limiter.AcquireAsync(tenant);
            Assert.True(lease.IsAcquired, $"request {i + 1} of a burst of 3");
        }

        using (var refused = await limiter.AcquireAsync(tenant))
        {
            Assert.False(refused.IsAcquired);
            Assert.True(refused.TryGetMetadata(RateLimitMetadata.Limit, out var limit));
            Assert.Equal(3, limit);
            Assert.True(refused.TryGetMetadata(RateLimitMetadata.Policy, out var policy));
            Assert.Equal("2;w=60, 1000;w=86400", policy);
            Assert.True(refused.TryGetMetadata(RateLimitMetadata.Plan, out var plan));
            Assert.Equal("free", plan);
            Assert.True(refused.TryGetMetadata(MetadataName.RetryAfter, out var retryAfter));
            Assert.InRange(retryAfter, TimeSpan.FromSeconds(25), TimeSpan.FromSeconds(30)); // one token of 2 a minute
        }

        await using (var admin = await ConnectionMultiplexer.ConnectAsync(redis.Endpoint))
        {
            Assert.True(await admin.GetDatabase().KeyExistsAsync("cfg:rl:{cfg-acme}:free"), "the bucket under the configured prefix");
        }

        await redis.StopAsync();
        using var closed = await limiter.AcquireAsync(new TenantId("cfg-globex")).AsTask().WaitAsync("a decision while Redis is down");
        Assert.False(closed.IsAcquired); // FailClosed, from configuration
        Assert.True(closed.TryGetMetadata(MetadataName.RetryAfter, out var whileDown));
        Assert.Equal(TimeSpan.FromSeconds(7), whileDown); // the configured break duration
        await host.StopAsync();
    }

    [Fact]
    public async Task Lease_size_lease_duration_and_plan_cache_duration_from_configuration_drive_the_limiter()
    {
        var redis = await TcpServer.RedisAsync();
        var time = new FakeTimeProvider();
        var resolver = new TestPlans(new() { ["cfg-lease"] = "daily" });
        using var host = Host(
            new()
            {
                ["ConnectionStrings:Redis"] = redis + TestHost.PatientRedis,
                ["ScaleOps:Resilience:DefaultPlan"] = "daily",
                ["ScaleOps:Resilience:RateLimiting:Store"] = "Redis",
                ["ScaleOps:Resilience:RateLimiting:RedisKeyPrefix"] = "test:cfglease:" + Guid.NewGuid().ToString("N") + ":",
                ["ScaleOps:Resilience:RateLimiting:LeaseSize"] = "5",
                ["ScaleOps:Resilience:RateLimiting:LeaseDuration"] = "00:01:00",
                ["ScaleOps:Resilience:RateLimiting:PlanCacheDuration"] = "00:00:00",
                ["ScaleOps:Resilience:RateLimiting:Plans:daily:0:PermitLimit"] = "1000",
                ["ScaleOps:Resilience:RateLimiting:Plans:daily:0:Window"] = "1.00:00:00",
            },
            s =>
            {
                s.AddSingleton<TimeProvider>(time);
                s.AddSingleton<ITenantPlanResolver>(resolver);
            });
        await host.StartAsync();
        var limiter = host.Services.GetRequiredService<PartitionedRateLimiter<TenantId>>();
        var options = host.Services.GetRequiredService<Microsoft.Extensions.Options.IOptions<ResilienceOptions>>().Value;
        var key = $"{options.RateLimiting.RedisKeyPrefix}{{cfg-lease}}:daily";
        using var decisions = new MetricCollector<long>(host.Services.GetRequiredService<System.Diagnostics.Metrics.IMeterFactory>(), "ScaleOps",
            "scaleops.resilience.rate_limit.decisions");
        await using var admin = await ConnectionMultiplexer.ConnectAsync(redis);
        var tenant = new TenantId("cfg-lease");

        (await limiter.AcquireAsync(tenant)).Dispose(); // cold: one token
        time.Advance(TimeSpan.FromSeconds(2)); // past the default LeaseDuration (1 s), within the configured minute: still hot
        (await limiter.AcquireAsync(tenant)).Dispose(); // hot: leases LeaseSize tokens, spends one
        Assert.Equal(994, Math.Floor((double)await admin.GetDatabase().HashGetAsync(key, "1"))); // 1 + 5 of 1,000 taken

        time.Advance(TimeSpan.FromSeconds(30)); // the leased tokens are still valid for the configured minute
        for (var i = 0; i < 4; i++)
        {
            using var lease = await limiter.AcquireAsync(tenant);
            Assert.True(lease.IsAcquired);
        }

        Assert.Equal(994, Math.Floor((double)await admin.GetDatabase().HashGetAsync(key, "1"))); // no round trip took more
        var bySource = decisions.GetMeasurementSnapshot().GroupBy(m => (string)m.Tags["source"]!).ToDictionary(g => g.Key, g => g.Sum(m => m.Value));
        Assert.Equal(2, bySource.GetValueOrDefault("redis"));
        Assert.Equal(4, bySource.GetValueOrDefault("lease"));
        Assert.Equal(6, resolver.Calls); // PlanCacheDuration 0: the resolver is asked on every request
        await host.StopAsync();
    }

    [Fact]
    public async Task A_breaker_added_in_configuration_opens_breaks_and_closes_by_its_settings_and_drives_health_and_features()
    {
        var time = new FakeTimeProvider();
        using var host = Host(
            new()
            {
                ["ScaleOps:Resilience:CircuitBreakers:search:FailureRatio"] = "0.75",
                ["ScaleOps:Resilience:CircuitBreakers:search:MinimumThroughput"] = "4",
                ["ScaleOps:Resilience:CircuitBreakers:search:SamplingDuration"] = "00:01:00",
                ["ScaleOps:Resilience:CircuitBreakers:search:BreakDuration"] = "00:00:20",
                ["ScaleOps:Resilience:CircuitBreakers:search:Critical"] = "true",
                ["FeatureManagement:Search:EnabledFor:0:Name"] = DegradationFeatureFilter.Alias,
                ["FeatureManagement:Search:EnabledFor:0:Parameters:Breaker"] = "search",
            },
            s =>
            {
                s.AddSingleton<TimeProvider>(time);
                s.AddFeatureManagement();
                s.AddFakeLogging();
            });
        await host.StartAsync();
        var breakers = host.Services.GetRequiredService<CircuitBreakerRegistry>();
        var features = host.Services.GetRequiredService<IFeatureManager>();
        var health = host.Services.GetRequiredService<CircuitBreakerHealthCheck>();
        var pipeline = breakers.GetPipeline("search");

        await pipeline.ExecuteAsync(_ => ValueTask.CompletedTask);
        for (var i = 0; i < 2; i++)
        {
            await Assert.ThrowsAsync<TimeoutException>(async () => await pipeline.ExecuteAsync(_ => throw new TimeoutException()));
        }

        Assert.Equal(CircuitState.Closed, breakers.GetState("search")); // 2 of 3 failed: below the ratio 0.75 (the default 0.5 would open)

        time.Advance(TimeSpan.FromSeconds(15)); // past the default SamplingDuration (10 s), within the configured minute
        await Assert.ThrowsAsync<TimeoutException>(async () => await pipeline.ExecuteAsync(_ => throw new TimeoutException()));
        Assert.Equal(CircuitState.Open, breakers.GetState("search")); // 3 of 4 in the minute: the configured throughput and ratio

        Assert.False(await features.IsEnabledAsync("Search"));
        var broken = await health.CheckHealthAsync(new HealthCheckContext());
        Assert.Equal(HealthStatus.Unhealthy, broken.Status); // Critical, from configuration
        Assert.Contains("search (Open)", broken.Description, StringComparison.Ordinal);
        Assert.Equal("Open", broken.Data["search"]);

        time.Advance(TimeSpan.FromSeconds(19));
        Assert.True(breakers.IsBroken("search")); // the configured 20 s break, not the default 5 s
        time.Advance(TimeSpan.FromSeconds(1));
        Assert.False(breakers.IsBroken("search"));
        Assert.True(await features.IsEnabledAsync("Search"));

        await pipeline.ExecuteAsync(_ => ValueTask.CompletedTask); // the trial
        Assert.Equal(CircuitState.Closed, breakers.GetState("search"));
        Assert.Equal(HealthStatus.Healthy, (await health.CheckHealthAsync(new HealthCheckContext())).Status);

        // Opening is logged as 6001 (a warning, with the configured break and the failure), closing as 6002.
        var records = host.Services.GetFakeLogCollector().GetSnapshot();
        var opened = Assert.Single(records, r => r.Id.Id == 6001);
        Assert.Equal((Microsoft.Extensions.Logging.LogLevel.Warning, "Circuit breaker search opened for 00:00:20 (manual: False)"), (opened.Level, opened.Message));
        Assert.IsType<TimeoutException>(opened.Exception);
        var closed = Assert.Single(records, r => r.Id.Id == 6002);
        Assert.Equal((Microsoft.Extensions.Logging.LogLevel.Information, "Circuit breaker search closed (manual: False)"), (closed.Level, closed.Message));
        await host.StopAsync();
    }

    [Theory]
    [InlineData("ScaleOps:Resilience:RateLimiting:Store", "Redsi")]
    [InlineData("ScaleOps:Resilience:RateLimiting:RedisFailureMode", "Closed")]
    [InlineData("ScaleOps:Resilience:RateLimiting:Plans:default:0:Window", "one second")]
    [InlineData("ScaleOps:Resilience:Quotas:Resources:exports", "Week")]
    [InlineData("ScaleOps:Resilience:CircuitBreakers:redis:FailureRatio", "half")]
    public async Task A_value_of_the_wrong_type_fails_the_start_naming_its_key(string key, string value)
    {
        var settings = new Dictionary<string, string?>
        {
            ["ScaleOps:Resilience:RateLimiting:Plans:default:0:PermitLimit"] = "10",
            ["ScaleOps:Resilience:RateLimiting:Plans:default:0:Window"] = "00:00:01",
            [key] = value,
        };
        using var host = Host(settings);
        var ex = await Assert.ThrowsAnyAsync<Exception>(() => host.StartAsync());
        Assert.Contains(key, ex.Message, StringComparison.Ordinal);
    }
}
