using System;
using System.Collections.Generic;
using System.Threading.Tasks;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;
using Microsoft.FeatureManagement;
using Polly.CircuitBreaker;
using ScaleOps.Resilience.CircuitBreakers;
using ScaleOps.Tenancy;

namespace ScaleOps.Resilience.Tests.CircuitBreakers;

public class DegradationFeatureFilterTests
{
    private static ServiceProvider Build(Dictionary<string, string?> features, TimeProvider? time = null) => TestHost.Build(_ => { }, time, services: s =>
    {
        s.AddSingleton<IConfiguration>(new ConfigurationBuilder().AddInMemoryCollection(features).Build());
        s.AddFeatureManagement();
    });

    private static Dictionary<string, string?> Feature(string name, string? breaker, params string[] disabledTenants)
    {
        var settings = new Dictionary<string, string?>
        {
            [$"FeatureManagement:{name}:EnabledFor:0:Name"] = DegradationFeatureFilter.Alias,
        };
        if (breaker is not null)
        {
            settings[$"FeatureManagement:{name}:EnabledFor:0:Parameters:Breaker"] = breaker;
        }

        for (var i = 0; i < disabledTenants.Length; i++)
        {
            settings[$"FeatureManagement:{name}:EnabledFor:0:Parameters:DisabledTenants:{i}"] = disabledTenants[i];
        }

        return settings;
    }

    [Fact]
    public async Task A_feature_is_off_while_its_breaker_is_open_and_on_again_when_it_closes()
    {
        await using var sp = Build(Feature("Search", "redis"));
        var features = sp.GetRequiredService<IFeatureManager>();
        var breakers = sp.GetRequiredService<CircuitBreakerRegistry>();
        Assert.True(await features.IsEnabledAsync("Search"));

        await breakers.IsolateAsync("redis");
        Assert.False(await features.IsEnabledAsync("Search"));

        await breakers.ResetAsync("redis");
        Assert.True(await features.IsEnabledAsync("Search"));
    }

    [Fact]
    public async Task A_feature_whose_breaker_opened_is_on_again_once_the_break_is_over_so_its_next_call_is_the_trial()
    {
        var time = new FakeTimeProvider();
        await using var sp = Build(Feature("Search", "redis"), time);
        var features = sp.GetRequiredService<IFeatureManager>();
        var breakers = sp.GetRequiredService<CircuitBreakerRegistry>();
        var pipeline = breakers.GetPipeline("redis");
        for (var i = 0; i < 5; i++) // the default MinimumThroughput, all failing
        {
            await Assert.ThrowsAsync<TimeoutException>(async () => await pipeline.ExecuteAsync(_ => throw new TimeoutException()));
        }

        Assert.Equal(CircuitState.Open, breakers.GetState("redis"));
        Assert.False(await features.IsEnabledAsync("Search"));

        time.Advance(TimeSpan.FromSeconds(5)); // the default BreakDuration: nothing called the breaker meanwhile
        Assert.True(await features.IsEnabledAsync("Search"));
        Assert.Equal(CircuitState.Open, breakers.GetState("redis")); // still Open until a call is tried

        await pipeline.ExecuteAsync(_ => ValueTask.CompletedTask); // the feature's call: the half-open trial
        Assert.Equal(CircuitState.Closed, breakers.GetState("redis"));
        Assert.True(await features.IsEnabledAsync("Search"));
    }

    [Fact]
    public async Task A_feature_can_be_off_for_listed_tenants_only()
    {
        await using var sp = Build(Feature("Exports", null, "degraded-acme"));
        var features = sp.GetRequiredService<IFeatureManager>();
        var tenants = sp.GetRequiredService<ITenantContext>();

        using (tenants.BeginScope(new TenantId("degraded-acme")))
        {
            Assert.False(await features.IsEnabledAsync("Exports"));
        }

        using (tenants.BeginScope(new TenantId("degraded-globex")))
        {
            Assert.True(await features.IsEnabledAsync("Exports"));
        }
    }

    [Fact]
    public async Task A_feature_off_globally_stays_off_and_an_unknown_breaker_fails_at_the_call()
    {
        var settings = Feature("Reports", "mongo");
        settings["FeatureManagement:Archive"] = "false";
        await using var sp = Build(settings);
        var features = sp.GetRequiredService<IFeatureManager>();

        Assert.False(await features.IsEnabledAsync("Archive"));
        var ex = await Assert.ThrowsAsync<ArgumentException>(() => features.IsEnabledAsync("Reports"));
        Assert.Contains("No circuit breaker is named 'mongo'", ex.Message, StringComparison.Ordinal);
    }
}
