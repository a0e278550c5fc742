using System;
using System.Collections.Generic;
using System.Threading.RateLimiting;
using System.Threading.Tasks;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;
using ScaleOps.Resilience.RateLimiting;
using ScaleOps.Tenancy;
using ScaleOps.TestInfrastructure;
using StackExchange.Redis;

namespace ScaleOps.Resilience.Tests.RateLimiting;

/// <summary>
/// Leased tokens of a tenant that changes plan: each plan has its own key (<c>{prefix}{{tenant}}:{plan}</c>), and the
/// tokens leased under the old plan were taken from the old plan's key, so that is where they go back.
/// </summary>
public class RedisLeasePlanChangeTests
{
    private const string Prefix = "test:planchange:";

    [Theory]
    [InlineData(false)] // still valid: the new plan's batch used to drop them (LeasePool.Add)
    [InlineData(true)] // expired: the new plan's round trip used to drop them (LeasePool.TakeExpired)
    public async Task Tokens_leased_under_the_old_plan_are_given_back_to_the_old_plans_bucket(bool expired)
    {
        // basic: 100 a day; pro: 1,000 a day. Leases of 5 for 1 min; plans cached for 1 s; the clock moves only when told.
        var time = new FakeTimeProvider();
        var redis = await TcpServer.RedisAsync();
        await using var admin = await ConnectionMultiplexer.ConnectAsync(redis);
        var tenant = new TenantId($"planchange-{Guid.NewGuid():N}");
        var plans = new Dictionary<string, string> { [tenant.ToString()] = "basic" };
        await using var sp = TestHost.Build(
            o =>
            {
                o.RateLimiting.Store = RateLimiterStore.Redis;
                o.RedisConnectionString = redis + TestHost.PatientRedis;
                o.RateLimiting.RedisKeyPrefix = Prefix;
                o.DefaultPlan = "basic";
                o.Plan("basic", (100, TimeSpan.FromDays(1), null));
                o.Plan("pro", (1000, TimeSpan.FromDays(1), null));
                o.RateLimiting.LeaseSize = 5;
                o.RateLimiting.LeaseDuration = TimeSpan.FromMinutes(1);
                o.RateLimiting.PlanCacheDuration = TimeSpan.FromSeconds(1);
            },
            time,
            services: s => s.AddSingleton<ITenantPlanResolver>(new TestPlans(plans)));
        var limiter = sp.GetRequiredService<PartitionedRateLimiter<TenantId>>();
        var basic = $"{Prefix}{{{tenant}}}:basic";
        (await limiter.AcquireAsync(tenant)).Dispose();
        (await limiter.AcquireAsync(tenant)).Dispose(); // hot: leases 5 from basic, spends 1, holds 4
        Assert.InRange((double)await admin.GetDatabase().HashGetAsync(basic, "1"), 93.9, 94.1);

        // The tenant upgrades. Other instances still cache basic for up to PlanCacheDuration and decide from basic's key,
        // and the tenant may come back to basic before that key expires (when it is full again: up to a day here).
        plans[tenant.ToString()] = "pro";
        time.Advance(expired ? TimeSpan.FromMinutes(2) : TimeSpan.FromSeconds(2));
        using (var pro = await limiter.AcquireAsync(tenant))
        {
            Assert.True(pro.IsAcquired);
            Assert.True(pro.TryGetMetadata(RateLimitMetadata.Plan, out var plan));
            Assert.Equal("pro", plan);
        }

        // Two requests were admitted under basic: its bucket is short of those two only, not of the 4 leased and unspent.
        await TestSignal.UntilAsync(
            async () => (double)await admin.GetDatabase().HashGetAsync(basic, "1") > 97.9,
            "the 4 tokens leased under basic to be given back to basic's bucket");
        Assert.InRange((double)await admin.GetDatabase().HashGetAsync(basic, "1"), 97.9, 98.1);
    }
}
