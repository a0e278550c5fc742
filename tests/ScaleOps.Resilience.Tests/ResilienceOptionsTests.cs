using System;
using System.Collections.Generic;
using System.Linq;
using System.Threading.RateLimiting;
using System.Threading.Tasks;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using ScaleOps.Resilience.CircuitBreakers;
using ScaleOps.Resilience.Quotas;
using ScaleOps.Resilience.RateLimiting;
using ScaleOps.Tenancy;

namespace ScaleOps.Resilience.Tests;

public class ResilienceOptionsTests
{
    private static string Failure(Action<ResilienceOptions> configure)
    {
        using var sp = TestHost.Build(configure);
        var ex = Assert.Throws<OptionsValidationException>(() => sp.GetRequiredService<IOptions<ResilienceOptions>>().Value);
        return ex.Message;
    }

    private static IHost BuildHost(Dictionary<string, string?> settings)
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Configuration.AddInMemoryCollection(settings);
        builder.Services.AddScaleOps(o => o.ConnectionString = "Host=127.0.0.1").AddResilience();
        return builder.Build();
    }

    [Fact]
    public void Defaults_are_pinned()
    {
        var options = new ResilienceOptions();
        Assert.Equal("default", options.DefaultPlan);
        Assert.Equal(RateLimiterStore.Local, options.RateLimiting.Store);
        Assert.Equal(RedisFailureMode.Local, options.RateLimiting.RedisFailureMode);
        Assert.Equal(1, options.RateLimiting.LeaseSize);
        Assert.Equal(TimeSpan.FromSeconds(1), options.RateLimiting.LeaseDuration);
        Assert.Equal(TimeSpan.FromMinutes(1), options.RateLimiting.PlanCacheDuration);
        Assert.Equal("scaleops:rl:", options.RateLimiting.RedisKeyPrefix);
        Assert.Equal(["blob", "http", "postgres", "redis"], options.CircuitBreakers.Keys.Order(StringComparer.Ordinal));
        Assert.True(options.CircuitBreakers["postgres"].Critical);
        Assert.False(options.CircuitBreakers["redis"].Critical);
        Assert.Equal(TimeSpan.FromSeconds(5), options.CircuitBreakers["redis"].BreakDuration);
    }

    [Fact]
    public void Negative_and_zero_limits_fail_naming_each_setting()
    {
        var message = Failure(o =>
        {
            o.Plan("default", (0, TimeSpan.FromSeconds(1), null), (10, TimeSpan.Zero, -1));
            o.RateLimiting.Plans["empty"] = [];
            o.Quotas.Resources["documents"] = QuotaPeriod.None;
            o.Quotas.Plans["default"] = new() { ["documents"] = -5, ["pages"] = 10 };
            o.RateLimiting.LeaseSize = 0;
            o.CircuitBreakers["redis"].FailureRatio = 0;
            o.CircuitBreakers["redis"].MinimumThroughput = 1;
        });

        Assert.Contains("ScaleOps:Resilience:RateLimiting:Plans:default:0:PermitLimit must be at least 1 (it is 0).", message, StringComparison.Ordinal);
        Assert.Contains("ScaleOps:Resilience:RateLimiting:Plans:default:1:Window must be from 00:00:00.001", message, StringComparison.Ordinal);
        Assert.Contains("ScaleOps:Resilience:RateLimiting:Plans:default:1:Burst must be at least 1 when set (it is -1).", message, StringComparison.Ordinal);
        Assert.Contains("ScaleOps:Resilience:RateLimiting:Plans:empty has no limit", message, StringComparison.Ordinal);
        Assert.Contains("ScaleOps:Resilience:Quotas:Plans:default:documents must be at least 1 (it is -5)", message, StringComparison.Ordinal);
        Assert.Contains("ScaleOps:Resilience:Quotas:Plans:default:pages names a resource that ScaleOps:Resilience:Quotas:Resources does not declare.",
            message, StringComparison.Ordinal);
        Assert.Contains("ScaleOps:Resilience:RateLimiting:LeaseSize must be from 1 to 10000 (it is 0).", message, StringComparison.Ordinal);
        Assert.Contains("ScaleOps:Resilience:CircuitBreakers:redis:FailureRatio must be greater than 0", message, StringComparison.Ordinal);
        Assert.Contains("ScaleOps:Resilience:CircuitBreakers:redis:MinimumThroughput must be at least 2 (it is 1).", message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("app:{rl}:")]
    [InlineData("app}:")]
    public void A_redis_key_prefix_with_a_brace_fails_naming_the_setting(string prefix)
    {
        var message = Failure(o =>
        {
            o.Plan("default", (10, TimeSpan.FromSeconds(1), null));
            o.RateLimiting.RedisKeyPrefix = prefix;
        });

        Assert.Contains($"ScaleOps:Resilience:RateLimiting:RedisKeyPrefix must not contain '{{' or '}}' (it is '{prefix}')", message, StringComparison.Ordinal);
    }

    /// <summary>
    /// Plan names and the prefix make the tenants' Redis keys, which are UTF-8: an unpaired surrogate was written as U+FFFD,
    /// so plans <c>pro\uD800</c> and <c>pro\uDBFF</c> shared one bucket per tenant. Refused at start-up, naming the index.
    /// </summary>
    [Fact]
    public void Plan_names_and_a_redis_key_prefix_with_an_unpaired_surrogate_fail_naming_the_setting()
    {
        var message = Failure(o =>
        {
            o.Plan("default", (10, TimeSpan.FromSeconds(1), null));
            o.Plan("pro\uD800", (10, TimeSpan.FromSeconds(1), null));
            o.Plan("pro\uDBFF", (20, TimeSpan.FromSeconds(1), null));
            o.RateLimiting.RedisKeyPrefix = "rl\uDC00:";
        });

        Assert.Contains("ScaleOps:Resilience:RateLimiting:Plans:pro\uD800 has an unpaired surrogate (U+D800) at index 3", message, StringComparison.Ordinal);
        Assert.Contains("ScaleOps:Resilience:RateLimiting:Plans:pro\uDBFF has an unpaired surrogate (U+DBFF) at index 3", message, StringComparison.Ordinal);
        Assert.Contains("ScaleOps:Resilience:RateLimiting:RedisKeyPrefix has an unpaired surrogate (U+DC00) at index 2", message, StringComparison.Ordinal);
    }

    [Fact]
    public void Zero_negative_and_inconsistent_retry_settings_fail_naming_each_setting()
    {
        var message = Failure(o =>
        {
            o.CircuitBreakers["postgres"].Retry = new RetrySettings { MaxRetryAttempts = 0, BaseDelay = TimeSpan.FromSeconds(-1) };
            o.CircuitBreakers["redis"].Retry = new RetrySettings { BaseDelay = TimeSpan.FromSeconds(2), MaxDelay = TimeSpan.FromSeconds(1) };
        });

        Assert.Contains("ScaleOps:Resilience:CircuitBreakers:postgres:Retry:MaxRetryAttempts must be from 1 to 100 (it is 0)", message, StringComparison.Ordinal);
        Assert.Contains("ScaleOps:Resilience:CircuitBreakers:postgres:Retry:BaseDelay must be from 00:00:00.001 to 00:01:00 (it is -00:00:01).", message,
            StringComparison.Ordinal);
        Assert.Contains("ScaleOps:Resilience:CircuitBreakers:redis:Retry:MaxDelay must be from BaseDelay (00:00:02) to 00:10:00 (it is 00:00:01).", message,
            StringComparison.Ordinal);
    }

    [Fact]
    public void Configuration_binds_a_pipeline_retry()
    {
        using var host = BuildHost(new()
        {
            ["ScaleOps:Resilience:CircuitBreakers:postgres:Retry:MaxRetryAttempts"] = "5",
            ["ScaleOps:Resilience:CircuitBreakers:postgres:Retry:BaseDelay"] = "00:00:00.050",
            ["ScaleOps:Resilience:CircuitBreakers:postgres:Retry:UseJitter"] = "false",
        });
        var options = host.Services.GetRequiredService<IOptions<ResilienceOptions>>().Value;

        var retry = Assert.IsType<RetrySettings>(options.CircuitBreakers["postgres"].Retry);
        Assert.Equal(5, retry.MaxRetryAttempts);
        Assert.Equal(TimeSpan.FromMilliseconds(50), retry.BaseDelay);
        Assert.False(retry.UseJitter);
        Assert.False(retry.RetryNonIdempotent); // never retried unless declared idempotent, by default
        Assert.Equal(TimeSpan.FromSeconds(5), retry.MaxDelay);
        Assert.True(options.CircuitBreakers["postgres"].Critical); // the rest of the default breaker is kept
        Assert.Null(options.CircuitBreakers["redis"].Retry);
    }

    [Fact]
    public void An_unknown_default_plan_fails_at_start_up()
    {
        var message = Failure(o =>
        {
            o.DefaultPlan = "basic";
            o.Plan("free", (10, TimeSpan.FromSeconds(1), null));
            o.Plan("pro", (100, TimeSpan.FromSeconds(1), null));
        });
        Assert.Contains("ScaleOps:Resilience:DefaultPlan 'basic' is not a plan of ScaleOps:Resilience:RateLimiting:Plans (configured: free, pro)",
            message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_default_plan_known_to_only_one_feature_fails_at_start_up_for_the_other()
    {
        // Rate limits know only "free", quotas only "default": each feature with plans must know the default plan.
        var rateLimitsMissing = Failure(o =>
        {
            o.Plan("free", (10, TimeSpan.FromSeconds(1), null));
            o.Quotas.Resources["documents"] = QuotaPeriod.None;
            o.Quotas.Plans["default"] = new() { ["documents"] = 10 };
        });
        Assert.Contains("ScaleOps:Resilience:DefaultPlan 'default' is not a plan of ScaleOps:Resilience:RateLimiting:Plans (configured: free)",
            rateLimitsMissing, StringComparison.Ordinal);
        Assert.DoesNotContain("Quotas:Plans (configured", rateLimitsMissing, StringComparison.Ordinal);

        var quotasMissing = Failure(o =>
        {
            o.DefaultPlan = "free";
            o.Plan("free", (10, TimeSpan.FromSeconds(1), null));
            o.Quotas.Resources["documents"] = QuotaPeriod.None;
            o.Quotas.Plans["pro"] = new() { ["documents"] = 10 };
        });
        Assert.Contains("ScaleOps:Resilience:DefaultPlan 'free' is not a plan of ScaleOps:Resilience:Quotas:Plans (configured: pro)",
            quotasMissing, StringComparison.Ordinal);
    }

    [Fact]
    public void The_redis_store_needs_a_connection_string()
    {
        var message = Failure(o => o.RateLimiting.Store = RateLimiterStore.Redis);
        Assert.Contains("ScaleOps:Resilience:RedisConnectionString is required when ScaleOps:Resilience:RateLimiting:Store is Redis", message,
            StringComparison.Ordinal);
    }

    [Fact]
    public void Configuration_binds_plans_and_takes_the_redis_connection_string_from_connection_strings()
    {
        using var host = BuildHost(new()
        {
            ["ConnectionStrings:Redis"] = "127.0.0.1:6390",
            ["ScaleOps:Resilience:DefaultPlan"] = "free",
            ["ScaleOps:Resilience:RateLimiting:Store"] = "Redis",
            ["ScaleOps:Resilience:RateLimiting:Plans:free:0:PermitLimit"] = "10",
            ["ScaleOps:Resilience:RateLimiting:Plans:free:0:Window"] = "00:00:01",
            ["ScaleOps:Resilience:RateLimiting:Plans:free:1:PermitLimit"] = "1000",
            ["ScaleOps:Resilience:RateLimiting:Plans:free:1:Window"] = "1.00:00:00",
            ["ScaleOps:Resilience:Quotas:Resources:documents"] = "None",
            ["ScaleOps:Resilience:Quotas:Plans:free:documents"] = "100",
            ["ScaleOps:Resilience:CircuitBreakers:redis:BreakDuration"] = "00:00:10",
        });
        var options = host.Services.GetRequiredService<IOptions<ResilienceOptions>>().Value;

        Assert.Equal("127.0.0.1:6390", options.RedisConnectionString);
        Assert.Equal(2, options.RateLimiting.Plans["free"].Count);
        Assert.Equal(TimeSpan.FromDays(1), options.RateLimiting.Plans["free"][1].Window);
        Assert.Equal(100, options.Quotas.Plans["free"]["documents"]);
        Assert.Equal(TimeSpan.FromSeconds(10), options.CircuitBreakers["redis"].BreakDuration);
        Assert.Equal(0.5, options.CircuitBreakers["redis"].FailureRatio); // unchanged default
    }

    [Fact]
    public void Configuration_for_a_breaker_in_another_case_configures_that_breaker()
    {
        using var host = BuildHost(new() { ["ScaleOps:Resilience:CircuitBreakers:Redis:BreakDuration"] = "00:00:30" });
        var options = host.Services.GetRequiredService<IOptions<ResilienceOptions>>().Value;

        Assert.Equal(TimeSpan.FromSeconds(30), options.CircuitBreakers["redis"].BreakDuration);
        Assert.Equal(["blob", "http", "postgres", "redis"], options.CircuitBreakers.Keys.Order(StringComparer.Ordinal));
        var registry = host.Services.GetRequiredService<CircuitBreakerRegistry>();
        Assert.Equal(["blob", "http", "postgres", "redis"], registry.Names);
        Assert.Same(registry.GetPipeline("redis"), registry.GetPipeline("REDIS"));
    }

    [Fact]
    public void Plan_and_resource_names_differing_only_by_case_fail_naming_the_setting()
    {
        var message = Failure(o =>
        {
            o.Plan("default", (10, TimeSpan.FromSeconds(1), null));
            o.Plan("Pro", (10, TimeSpan.FromSeconds(1), null));
            o.Plan("pro", (10, TimeSpan.FromSeconds(1), null));
            o.Quotas.Resources["documents"] = QuotaPeriod.None;
            o.Quotas.Resources["Documents"] = QuotaPeriod.None;
            o.Quotas.Plans["default"] = new() { ["documents"] = 1, ["Documents"] = 2 };
            o.Quotas.Plans["DEFAULT"] = new() { ["documents"] = 1 };
        });

        Assert.Contains("ScaleOps:Resilience:RateLimiting:Plans has names that differ only by case (Pro, pro)", message, StringComparison.Ordinal);
        Assert.Contains("ScaleOps:Resilience:Quotas:Resources has names that differ only by case (Documents, documents)", message, StringComparison.Ordinal);
        Assert.Contains("ScaleOps:Resilience:Quotas:Plans has names that differ only by case (DEFAULT, default)", message, StringComparison.Ordinal);
        Assert.Contains("ScaleOps:Resilience:Quotas:Plans:default has names that differ only by case (Documents, documents)", message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_unknown_setting_fails_the_start()
    {
        using var host = BuildHost(new() { ["ScaleOps:Resilience:RateLimiting:Bogus"] = "1" });
        var ex = await Assert.ThrowsAsync<OptionsValidationException>(() => host.StartAsync());
        Assert.Contains("Bogus", ex.Message, StringComparison.Ordinal);
    }

    /// <summary>
    /// The Redis limiter declares its keys, <c>{RedisKeyPrefix}{{tenant}}:{plan}</c>, to Core's key namespace check: a
    /// package whose keys start with the prefix and a brace (as ScaleOps.Caching's do with the prefix <c>app</c>: its plan
    /// <c>gen</c> was the cache's generation key) stops the start. The local limiter writes no Redis key.
    /// </summary>
    [Theory]
    [InlineData("Redis", true)]
    [InlineData("Local", false)]
    public async Task The_Redis_limiter_s_keys_are_declared_so_an_overlapping_package_stops_the_start(string store, bool refused)
    {
        var redis = await ScaleOps.TestInfrastructure.TcpServer.RedisAsync();
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["ScaleOps:Resilience:RedisConnectionString"] = redis,
            ["ScaleOps:Resilience:RateLimiting:Store"] = store,
            ["ScaleOps:Resilience:RateLimiting:RedisKeyPrefix"] = "app:",
        });
        builder.Services.AddScaleOps(o =>
        {
            o.ConnectionString = "Host=127.0.0.1";
            o.ApplyMigrationsOnStart = false;
        }).AddResilience(o => o.Plan("default", (5, TimeSpan.FromSeconds(1), null)))
            .AddRedisKeyNamespace<ScaleOpsOptions>("Other", _ => new RedisKeyNamespace("Other:Prefix", "app", "app:{"));
        using var host = builder.Build();

        var error = await Record.ExceptionAsync(() => host.StartAsync());
        if (refused)
        {
            var validation = Assert.IsType<OptionsValidationException>(error);
            Assert.Contains("ScaleOps:Resilience:RateLimiting:RedisKeyPrefix ('app:') and Other:Prefix ('app') overlap in Redis", validation.Message, StringComparison.Ordinal);
            Assert.Contains("ScaleOps.Resilience writes keys starting 'app:{'", validation.Message, StringComparison.Ordinal);
        }
        else
        {
            Assert.Null(error);
            await host.StopAsync();
        }
    }

    [Fact]
    public async Task The_Redis_limiter_alone_starts_with_any_valid_prefix()
    {
        var redis = await ScaleOps.TestInfrastructure.TcpServer.RedisAsync();
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["ScaleOps:Resilience:RedisConnectionString"] = redis,
            ["ScaleOps:Resilience:RateLimiting:Store"] = "Redis",
            ["ScaleOps:Resilience:RateLimiting:RedisKeyPrefix"] = "app:",
        });
        builder.Services.AddScaleOps(o =>
        {
            o.ConnectionString = "Host=127.0.0.1";
            o.ApplyMigrationsOnStart = false;
        }).AddResilience(o => o.Plan("default", (5, TimeSpan.FromSeconds(1), null)));
        using var host = builder.Build();

        await host.StartAsync();
        await host.StopAsync();
    }

    [Fact]
    public void Calling_AddResilience_twice_is_harmless()
    {
        var services = new ServiceCollection();
        services.AddLogging();
        var builder = services.AddScaleOps(o => o.ConnectionString = "Host=127.0.0.1");
        builder.AddResilience(o => o.Plan("default", (5, TimeSpan.FromSeconds(1), null)));
        var count = services.Count;
        builder.AddResilience();

        Assert.Equal(count + 1, services.Count); // only Core's ValidateOnStart registration repeats
        using var sp = services.BuildServiceProvider();
        Assert.Single(sp.GetServices<PartitionedRateLimiter<TenantId>>());
        Assert.Single(sp.GetServices<Microsoft.FeatureManagement.IFeatureFilterMetadata>().OfType<DegradationFeatureFilter>());
        Assert.Single(sp.GetServices<IValidateOptions<ResilienceOptions>>());
        Assert.Equal(5, sp.GetRequiredService<IOptions<ResilienceOptions>>().Value.RateLimiting.Plans["default"][0].PermitLimit);
    }
}
