using System;
using System.Collections.Generic;
using System.Threading.RateLimiting;
using System.Threading.Tasks;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;
using ScaleOps.Resilience.Internal.RateLimiting;
using ScaleOps.Resilience.RateLimiting;
using ScaleOps.Tenancy;

namespace ScaleOps.Resilience.Tests.RateLimiting;

public class LocalTenantRateLimiterTests
{
    private static readonly TenantId Acme = new("local-acme");
    private static readonly TenantId Globex = new("local-globex");
    private readonly FakeTimeProvider _time = new();

    private ServiceProvider Build(Action<ResilienceOptions>? configure = null, TestPlans? plans = null) =>
        TestHost.Build(
            o =>
            {
                o.Plan("default", (5, TimeSpan.FromSeconds(1), null));
                o.Plan("pro", (50, TimeSpan.FromSeconds(1), null));
                configure?.Invoke(o);
            },
            _time,
            services: s => s.AddSingleton<ITenantPlanResolver>(plans ?? new TestPlans(new() { ["local-globex"] = "pro" })));

    [Fact]
    public async Task Admits_the_burst_then_rejects_with_retry_after_and_ratelimit_metadata()
    {
        using var sp = Build();
        var limiter = sp.GetRequiredService<PartitionedRateLimiter<TenantId>>();

        for (var i = 0; i < 5; i++)
        {
            using var ok = await limiter.AcquireAsync(Acme);
            Assert.True(ok.IsAcquired);
            Assert.True(ok.TryGetMetadata(RateLimitMetadata.Remaining, out var remaining));
            Assert.Equal(4 - i, remaining);
            Assert.True(ok.TryGetMetadata(RateLimitMetadata.Limit, out var limit));
            Assert.Equal(5, limit);
        }

        using var rejected = await limiter.AcquireAsync(Acme);
        Assert.False(rejected.IsAcquired);
        Assert.True(rejected.TryGetMetadata(MetadataName.RetryAfter, out var retryAfter));
        Assert.Equal(TimeSpan.FromMilliseconds(200), retryAfter);
        Assert.True(rejected.TryGetMetadata(RateLimitMetadata.Reset, out var reset));
        Assert.Equal(TimeSpan.FromSeconds(1), reset);
        Assert.True(rejected.TryGetMetadata(RateLimitMetadata.Policy, out var policy));
        Assert.Equal("5;w=1", policy);

        _time.Advance(TimeSpan.FromMilliseconds(200));
        using var again = await limiter.AcquireAsync(Acme);
        Assert.True(again.IsAcquired);
    }

    [Fact]
    public async Task A_rejected_zero_permit_request_carries_the_retry_after_it_lists()
    {
        using var sp = Build(o => o.Plan("default", (2, TimeSpan.FromMinutes(1), null)));
        var limiter = sp.GetRequiredService<PartitionedRateLimiter<TenantId>>();
        (await limiter.AcquireAsync(Acme)).Dispose();
        (await limiter.AcquireAsync(Acme)).Dispose();

        using var probe = await limiter.AcquireAsync(Acme, 0);

        Assert.False(probe.IsAcquired);
        Assert.Contains(MetadataName.RetryAfter.Name, probe.MetadataNames);
        Assert.True(probe.TryGetMetadata(MetadataName.RetryAfter, out var retryAfter), "RETRY_AFTER is listed but not given");
        Assert.Equal(TimeSpan.FromSeconds(30), retryAfter); // one token at one per 30 s
    }

    [Fact]
    public async Task Used_after_dispose_it_throws_ObjectDisposedException()
    {
        using var sp = Build();
        var limiter = sp.GetRequiredService<PartitionedRateLimiter<TenantId>>();
        (await limiter.AcquireAsync(Acme)).Dispose();
        limiter.Dispose();

        Assert.Throws<ObjectDisposedException>(() => limiter.AttemptAcquire(Acme));
        await Assert.ThrowsAsync<ObjectDisposedException>(async () => await limiter.AcquireAsync(Acme));
    }

    [Fact]
    public async Task The_default_tenant_id_is_refused_naming_the_resource()
    {
        using var sp = Build();
        var limiter = sp.GetRequiredService<PartitionedRateLimiter<TenantId>>();

        var ex = await Assert.ThrowsAsync<ArgumentException>(async () => await limiter.AcquireAsync(default));
        Assert.Equal("resource", ex.ParamName);
        Assert.Equal("resource", Assert.Throws<ArgumentException>(() => limiter.AttemptAcquire(default)).ParamName);
    }

    [Fact]
    public async Task When_rules_tie_on_remaining_reset_names_the_rule_that_refills_last()
    {
        using var sp = Build(o => o.Plan("default", (10, TimeSpan.FromSeconds(1), null), (10, TimeSpan.FromDays(1), null)));
        var limiter = sp.GetRequiredService<PartitionedRateLimiter<TenantId>>();
        for (var i = 0; i < 9; i++)
        {
            (await limiter.AcquireAsync(Acme)).Dispose();
        }

        using var last = await limiter.AcquireAsync(Acme); // both rules now have 0 left
        Assert.True(last.TryGetMetadata(RateLimitMetadata.Reset, out var reset));
        Assert.Equal(TimeSpan.FromDays(1), reset);

        // Waiting what Reset says is enough; waiting the per-second rule's reset is not.
        _time.Advance(TimeSpan.FromSeconds(1));
        using (var early = await limiter.AcquireAsync(Acme))
        {
            Assert.False(early.IsAcquired);
        }

        _time.Advance(reset - TimeSpan.FromSeconds(1));
        using var next = await limiter.AcquireAsync(Acme);
        Assert.True(next.IsAcquired);
    }

    [Fact]
    public async Task The_policy_of_a_sub_second_window_states_the_rate_that_is_enforced()
    {
        using var sp = Build(o => o.Plan("default", (5, TimeSpan.FromMilliseconds(500), null)));
        var limiter = sp.GetRequiredService<PartitionedRateLimiter<TenantId>>();
        for (var i = 0; i < 5; i++)
        {
            (await limiter.AcquireAsync(Acme)).Dispose(); // the burst
        }

        var admittedInOneSecond = 0;
        string? policy = null;
        for (var ms = 0; ms < 1000; ms += 10)
        {
            _time.Advance(TimeSpan.FromMilliseconds(10));
            using var lease = await limiter.AcquireAsync(Acme);
            admittedInOneSecond += lease.IsAcquired ? 1 : 0;
            lease.TryGetMetadata(RateLimitMetadata.Policy, out policy);
        }

        Assert.Equal(10, admittedInOneSecond);
        Assert.Equal("10;w=1", policy); // was "5;w=1"
    }

    [Theory]
    [InlineData(10, 1_000, "10;w=1")]
    [InlineData(1_000, 86_400_000, "1000;w=86400")]
    [InlineData(5, 500, "10;w=1")]
    [InlineData(1, 1_500, "2;w=3")]
    [InlineData(3, 250, "12;w=1")]
    [InlineData(7, 3_333, "7000;w=3333")]
    public void Policy_items_state_the_rule_rate_over_whole_seconds(int permitLimit, int windowMs, string expected) =>
        Assert.Equal(expected, CompiledPlan.PolicyItem(new RateLimitRule { PermitLimit = permitLimit, Window = TimeSpan.FromMilliseconds(windowMs) }));

    [Fact]
    public async Task Tenants_get_the_limits_of_their_plan_and_do_not_share_buckets()
    {
        using var sp = Build();
        var limiter = sp.GetRequiredService<PartitionedRateLimiter<TenantId>>();

        var acme = await Count(limiter, Acme, 100);
        var globex = await Count(limiter, Globex, 100);

        Assert.Equal(5, acme);
        Assert.Equal(50, globex);
    }

    [Fact]
    public async Task Stacked_limits_are_decided_together_and_the_tightest_rule_is_reported()
    {
        using var sp = Build(o => o.Plan("default", (5, TimeSpan.FromSeconds(1), null), (8, TimeSpan.FromDays(1), null)));
        var limiter = sp.GetRequiredService<PartitionedRateLimiter<TenantId>>();

        Assert.Equal(5, await Count(limiter, Acme, 10)); // the per-second rule binds first
        _time.Advance(TimeSpan.FromSeconds(1));
        Assert.Equal(3, await Count(limiter, Acme, 10)); // then the per-day rule: 8 in total

        using var rejected = await limiter.AcquireAsync(Acme);
        Assert.False(rejected.IsAcquired);
        Assert.True(rejected.TryGetMetadata(RateLimitMetadata.Limit, out var limit));
        Assert.Equal(8, limit);
        Assert.True(rejected.TryGetMetadata(RateLimitMetadata.Remaining, out var remaining));
        Assert.Equal(0, remaining);
        Assert.True(rejected.TryGetMetadata(MetadataName.RetryAfter, out var retryAfter));
        Assert.True(retryAfter > TimeSpan.FromHours(2), $"Retry-After {retryAfter} should come from the per-day rule");
        Assert.True(rejected.TryGetMetadata(RateLimitMetadata.Policy, out var policy));
        Assert.Equal("5;w=1, 8;w=86400", policy);
    }

    [Fact]
    public async Task A_rejected_request_takes_no_token_from_any_rule()
    {
        using var sp = Build(o => o.Plan("default", (2, TimeSpan.FromSeconds(1), null), (3, TimeSpan.FromDays(1), null)));
        var limiter = sp.GetRequiredService<PartitionedRateLimiter<TenantId>>();

        Assert.Equal(2, await Count(limiter, Acme, 10)); // 8 rejected calls must not drain the per-day bucket
        _time.Advance(TimeSpan.FromSeconds(1));
        Assert.Equal(1, await Count(limiter, Acme, 10));
    }

    [Fact]
    public async Task Idle_tenants_state_is_released_once_their_buckets_are_full_again()
    {
        using var sp = Build();
        var limiter = (LocalTenantRateLimiter)sp.GetRequiredService<PartitionedRateLimiter<TenantId>>();
        for (var i = 0; i < 20; i++)
        {
            (await limiter.AcquireAsync(new TenantId($"idle-{i}"))).Dispose();
        }

        Assert.Equal(20, limiter.TenantCount);
        _time.Advance(TimeSpan.FromSeconds(11));
        (await limiter.AcquireAsync(Acme)).Dispose(); // the sweep runs on the call path
        Assert.Equal(1, limiter.TenantCount);
    }

    [Fact]
    public async Task AttemptAcquire_answers_undecided_until_the_plan_is_known_then_decides_locally()
    {
        var plans = new TestPlans([], synchronous: false);
        using var sp = Build(plans: plans);
        var limiter = sp.GetRequiredService<PartitionedRateLimiter<TenantId>>();

        using (var first = limiter.AttemptAcquire(Acme))
        {
            Assert.False(first.IsAcquired);
            Assert.Empty(first.MetadataNames);
        }

        (await limiter.AcquireAsync(Acme)).Dispose();
        using var second = limiter.AttemptAcquire(Acme);
        Assert.True(second.IsAcquired);
        Assert.Equal(1, plans.Calls);
    }

    [Fact]
    public async Task The_plan_cache_expires_so_a_plan_change_is_seen()
    {
        var map = new Dictionary<string, string>();
        using var sp = Build(o => o.RateLimiting.PlanCacheDuration = TimeSpan.FromSeconds(30), new TestPlans(map));
        var limiter = sp.GetRequiredService<PartitionedRateLimiter<TenantId>>();
        Assert.Equal(5, await Count(limiter, Acme, 60));

        map["local-acme"] = "pro";
        _time.Advance(TimeSpan.FromSeconds(31));
        Assert.Equal(50, await Count(limiter, Acme, 60));
    }

    [Fact]
    public async Task An_unknown_plan_fails_the_call_naming_the_plan_and_the_known_ones()
    {
        using var sp = Build(plans: new TestPlans(new() { ["local-acme"] = "platinum" }));
        var limiter = sp.GetRequiredService<PartitionedRateLimiter<TenantId>>();

        var ex = await Assert.ThrowsAsync<UnknownPlanException>(async () => await limiter.AcquireAsync(Acme));
        Assert.Equal("platinum", ex.Plan);
        Assert.Contains("default, pro", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Asking_for_more_permits_than_the_smallest_bucket_fails_at_the_call()
    {
        using var sp = Build();
        var limiter = sp.GetRequiredService<PartitionedRateLimiter<TenantId>>();

        var ex = await Assert.ThrowsAsync<ArgumentOutOfRangeException>(async () => await limiter.AcquireAsync(Acme, 6));
        Assert.Contains("from 0 to 5", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task It_drops_into_a_key_translated_limiter_as_the_aspnetcore_middleware_uses_it()
    {
        using var sp = Build();
        var limiter = sp.GetRequiredService<PartitionedRateLimiter<TenantId>>();
        using var byHeader = limiter.WithTranslatedKey<string>(tenant => new TenantId(tenant), leaveOpen: true);

        var admitted = 0;
        for (var i = 0; i < 8; i++)
        {
            using var lease = await byHeader.AcquireAsync("local-acme");
            admitted += lease.IsAcquired ? 1 : 0;
        }

        Assert.Equal(5, admitted);
    }

    [Fact]
    public async Task The_ambient_limiter_limits_the_current_tenant_and_needs_one()
    {
        using var sp = Build();
        var limiter = sp.GetRequiredService<AmbientTenantRateLimiter>();
        var tenants = sp.GetRequiredService<ITenantContext>();

        Assert.Throws<TenantRequiredException>(() => limiter.AttemptAcquire());
        using (tenants.BeginScope(Acme))
        {
            var admitted = 0;
            for (var i = 0; i < 8; i++)
            {
                using var lease = await limiter.AcquireAsync();
                admitted += lease.IsAcquired ? 1 : 0;
            }

            Assert.Equal(5, admitted);
        }

        using (tenants.BeginScope(Globex))
        {
            using var lease = await limiter.AcquireAsync();
            Assert.True(lease.IsAcquired);
        }
    }

    internal static async Task<int> Count(PartitionedRateLimiter<TenantId> limiter, TenantId tenant, int attempts)
    {
        var admitted = 0;
        for (var i = 0; i < attempts; i++)
        {
            using var lease = await limiter.AcquireAsync(tenant);
            admitted += lease.IsAcquired ? 1 : 0;
        }

        return admitted;
    }
}
