using System;
using System.Collections.Generic;
using System.Linq;
using System.Threading.Tasks;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;
using Microsoft.Extensions.Time.Testing;
using ScaleOps.Resilience.Quotas;
using ScaleOps.Resilience.RateLimiting;
using ScaleOps.Tenancy;

namespace ScaleOps.Resilience.Tests.Quotas;

/// <summary>Quotas set only by the README's configuration keys, in a generic host that migrates on start.</summary>
public class QuotaConfigurationTests(QuotaDatabase database) : IClassFixture<QuotaDatabase>
{
    [Fact]
    public async Task Resources_periods_and_plan_limits_from_configuration_are_enforced_and_a_refusal_is_counted_and_logged()
    {
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 3, 31, 23, 59, 0, TimeSpan.Zero));
        var logs = new FakeLogCollector();
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["ScaleOps:Resilience:DefaultPlan"] = "free",
            ["ScaleOps:Resilience:Quotas:Resources:documents"] = "None",
            ["ScaleOps:Resilience:Quotas:Resources:exports"] = "Month",
            ["ScaleOps:Resilience:Quotas:Resources:jobs"] = "Day",
            ["ScaleOps:Resilience:Quotas:Plans:free:exports"] = "2",
            ["ScaleOps:Resilience:Quotas:Plans:free:jobs"] = "1",
            ["ScaleOps:Resilience:Quotas:Plans:pro:exports"] = "10",
        });
        builder.Services.AddSingleton<TimeProvider>(time);
        builder.Services.AddSingleton<ITenantPlanResolver>(new TestPlans(new() { ["qc-pro"] = "pro" }));
        builder.Services.AddSingleton<ILoggerProvider>(new FakeLoggerProvider(logs));
        builder.Services.AddScaleOps(o => o.ConnectionString = database.ConnectionString).AddResilience();
        using var host = builder.Build();
        await host.StartAsync();
        using var rejections = new MetricCollector<long>(host.Services.GetRequiredService<System.Diagnostics.Metrics.IMeterFactory>(), "ScaleOps",
            "scaleops.resilience.quota.rejections");
        var quotas = host.Services.GetRequiredService<IQuotaService>();
        var tenants = host.Services.GetRequiredService<ITenantContext>();

        using (tenants.BeginScope(new TenantId($"qc-free-{Guid.NewGuid():N}")))
        {
            var first = await quotas.ReserveAsync("exports", 2, default);
            Assert.Equal(2, first.Limit);
            Assert.Equal(QuotaPeriod.Month, first.Period);
            Assert.Equal(new DateTimeOffset(2026, 3, 1, 0, 0, 0, TimeSpan.Zero), first.PeriodStart);
            var refused = await Assert.ThrowsAsync<QuotaExceededException>(() => quotas.ReserveAsync("exports", 1, default));
            Assert.Equal((2, 2, 1), (refused.Limit, refused.Usage, refused.Requested));

            Assert.Equal(1, (await quotas.ReserveAsync("jobs", 1, default)).Used);
            await Assert.ThrowsAsync<QuotaExceededException>(() => quotas.ReserveAsync("jobs", 1, default));
            var documents = await quotas.ReserveAsync("documents", 1_000, default);
            Assert.Null(documents.Limit); // a resource the plan does not list is unlimited
            Assert.Null(documents.PeriodStart);

            time.Advance(TimeSpan.FromMinutes(1)); // April 1, 00:00 UTC: a new day and a new month
            Assert.Equal(0, (await quotas.GetUsageAsync("exports")).Used);
            Assert.Equal(1, (await quotas.ReserveAsync("jobs", 1, default)).Used);
            Assert.Equal(1_000, (await quotas.GetUsageAsync("documents")).Used);
        }

        using (tenants.BeginScope(new TenantId("qc-pro")))
        {
            Assert.Equal(10, (await quotas.GetUsageAsync("exports")).Limit); // the plan the resolver gives, from configuration
        }

        var counted = rejections.GetMeasurementSnapshot();
        Assert.Equal(2, counted.Sum(m => m.Value));
        Assert.Equal(1, counted.Where(m => (string?)m.Tags["resource"] == "exports").Sum(m => m.Value));
        Assert.Equal(1, counted.Where(m => (string?)m.Tags["resource"] == "jobs").Sum(m => m.Value));
        var logged = logs.GetSnapshot().Where(r => r.Id.Id == 6201).ToList();
        Assert.Equal(2, logged.Count);
        Assert.Contains(logged, r => r.Message.Contains("exports", StringComparison.Ordinal) && r.Message.Contains("limit 2", StringComparison.Ordinal));
        await host.StopAsync();
    }
}
