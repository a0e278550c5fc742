using System;
using System.Collections.Generic;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;
using Npgsql;
using ScaleOps.Resilience.Quotas;
using ScaleOps.Resilience.RateLimiting;
using ScaleOps.Tenancy;
using ScaleOps.TestInfrastructure;

namespace ScaleOps.Resilience.Tests.Quotas;

public partial class QuotaServiceTests(QuotaDatabase database) : IClassFixture<QuotaDatabase>
{
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 11, 23, 22, 0, 0, TimeSpan.Zero));

    private ServiceProvider Build(Dictionary<string, string>? plans = null, string? postgres = null) => TestHost.Build(
        o =>
        {
            o.DefaultPlan = "free";
            o.Quotas.Resources["documents"] = QuotaPeriod.None;
            o.Quotas.Resources["jobs"] = QuotaPeriod.Day;
            o.Quotas.Resources["exports"] = QuotaPeriod.Month;
            o.Quotas.Plans["free"] = new() { ["documents"] = 20, ["jobs"] = 3, ["exports"] = 2 };
            o.Quotas.Plans["pro"] = new() { ["documents"] = 1000 };
        },
        _time,
        postgres ?? database.ConnectionString,
        s => s.AddSingleton<ITenantPlanResolver>(new TestPlans(plans ?? [])));

    private static TenantScope Enter(IServiceProvider sp, string tenant) =>
        sp.GetRequiredService<ITenantContext>().BeginScope(new TenantId(tenant));

    [Fact]
    public async Task Reserving_past_the_limit_throws_with_the_limit_and_the_usage_and_reserves_nothing()
    {
        await using var sp = Build();
        var quotas = sp.GetRequiredService<IQuotaService>();
        using var _ = Enter(sp, "q-limit");

        var usage = await quotas.ReserveAsync("documents", 18, default);
        Assert.Equal(18, usage.Used);
        Assert.Equal(20, usage.Limit);
        Assert.Equal(2, usage.Remaining);

        var ex = await Assert.ThrowsAsync<QuotaExceededException>(() => quotas.ReserveAsync("documents", 3, default));
        Assert.Equal("documents", ex.Resource);
        Assert.Equal(20, ex.Limit);
        Assert.Equal(18, ex.Usage);
        Assert.Equal(3, ex.Requested);
        Assert.Equal(18, (await quotas.GetUsageAsync("documents")).Used);

        Assert.Equal(20, (await quotas.ReserveAsync("documents", 2, default)).Used);
    }

    [Fact]
    public async Task Many_concurrent_writers_cannot_overshoot_the_limit()
    {
        await using var sp = Build();
        var quotas = sp.GetRequiredService<IQuotaService>();
        using var _ = Enter(sp, "q-concurrent");

        var attempts = Enumerable.Range(0, 60).Select(_ => Task.Run(async () =>
        {
            try
            {
                await quotas.ReserveAsync("documents", 1, default);
                return true;
            }
            catch (QuotaExceededException)
            {
                return false;
            }
        })).ToArray();
        var results = await Task.WhenAll(attempts).WaitAsync("60 concurrent reservations");

        Assert.Equal(20, results.Count(r => r));
        Assert.Equal(20, (await quotas.GetUsageAsync("documents")).Used);
    }

    [Fact]
    public async Task A_reservation_in_the_callers_transaction_commits_or_rolls_back_with_it()
    {
        await using var sp = Build();
        var quotas = sp.GetRequiredService<IQuotaService>();
        var dataSource = sp.GetRequiredService<NpgsqlDataSource>();
        using var _ = Enter(sp, "q-tx");

        await using (var connection = await dataSource.OpenConnectionAsync())
        await using (var tx = await connection.BeginTransactionAsync())
        {
            Assert.Equal(5, (await quotas.ReserveAsync("documents", 5, connection, tx)).Used);
            await tx.RollbackAsync();
        }

        Assert.Equal(0, (await quotas.GetUsageAsync("documents")).Used);

        await using (var connection = await dataSource.OpenConnectionAsync())
        await using (var tx = await connection.BeginTransactionAsync())
        {
            await using var insert = new NpgsqlCommand("CREATE TEMP TABLE doc (id int); INSERT INTO doc VALUES (1)", connection, tx);
            await insert.ExecuteNonQueryAsync();
            await quotas.ReserveAsync("documents", 5, connection, tx);
            await tx.CommitAsync();
        }

        Assert.Equal(5, (await quotas.GetUsageAsync("documents")).Used);
    }

    [Fact]
    public async Task Release_gives_quota_back_and_never_goes_below_zero()
    {
        await using var sp = Build();
        var quotas = sp.GetRequiredService<IQuotaService>();
        using var _ = Enter(sp, "q-release");

        await quotas.ReserveAsync("documents", 20, default);
        var released = await quotas.ReleaseAsync("documents", 5, default);
        Assert.Equal((5, 15), (released.Released, released.Used));
        await quotas.ReserveAsync("documents", 5, default);
        released = await quotas.ReleaseAsync("documents", 100, default);
        Assert.Equal((20, 0), (released.Released, released.Used)); // what was in use, not the 100 asked for
        released = await quotas.ReleaseAsync("jobs", 1, default);
        Assert.Equal((0, 0), (released.Released, released.Used)); // nothing reserved in the period: no row
    }

    [Fact]
    public async Task Per_period_usage_starts_again_in_the_next_day_and_month()
    {
        await using var sp = Build();
        var quotas = sp.GetRequiredService<IQuotaService>();
        using var _ = Enter(sp, "q-period");

        await quotas.ReserveAsync("jobs", 3, default);
        await quotas.ReserveAsync("exports", 2, default);
        await Assert.ThrowsAsync<QuotaExceededException>(() => quotas.ReserveAsync("jobs", 1, default));

        _time.Advance(TimeSpan.FromHours(3)); // 2026-11-24 01:00 UTC: a new day, the same month
        var jobs = await quotas.ReserveAsync("jobs", 1, default);
        Assert.Equal(1, jobs.Used);
        Assert.Equal(new DateTimeOffset(2026, 11, 24, 0, 0, 0, TimeSpan.Zero), jobs.PeriodStart);
        await Assert.ThrowsAsync<QuotaExceededException>(() => quotas.ReserveAsync("exports", 1, default));

        _time.Advance(TimeSpan.FromDays(7)); // December
        Assert.Equal(1, (await quotas.ReserveAsync("exports", 1, default)).Used);
    }

    [Fact]
    public async Task Releasing_a_reservation_after_a_period_boundary_frees_its_own_period_not_the_new_one()
    {
        var time = new FakeTimeProvider(new DateTimeOffset(2027, 1, 31, 23, 59, 0, TimeSpan.Zero));
        await using var sp = TestHost.Build(o =>
        {
            o.DefaultPlan = "free";
            o.Quotas.Resources["exports"] = QuotaPeriod.Month;
            o.Quotas.Plans["free"] = new() { ["exports"] = 5 };
        }, time, database.ConnectionString);
        var quotas = sp.GetRequiredService<IQuotaService>();
        using var _ = Enter(sp, "q-boundary");

        var january = await quotas.ReserveAsync("exports", 1, default);
        Assert.Equal(new DateTimeOffset(2027, 1, 1, 0, 0, 0, TimeSpan.Zero), january.PeriodStart);

        time.Advance(TimeSpan.FromMinutes(2)); // February 1, 00:01 UTC
        for (var i = 0; i < 5; i++)
        {
            await quotas.ReserveAsync("exports", 1, default);
        }

        // The January export is cancelled in February: it gives back January's quota.
        var released = await quotas.ReleaseReservationAsync("exports", 1, january.PeriodStart, default);
        Assert.Equal((0, january.PeriodStart), (released.Used, released.PeriodStart));

        var ex = await Assert.ThrowsAsync<QuotaExceededException>(() => quotas.ReserveAsync("exports", 1, default));
        Assert.Equal((5, 5), (ex.Limit, ex.Usage));
        Assert.Equal(5, (await quotas.GetUsageAsync("exports")).Used);
    }

    [Fact]
    public async Task Releasing_a_reservation_needs_a_period_start_of_the_resource()
    {
        await using var sp = Build();
        var quotas = sp.GetRequiredService<IQuotaService>();
        var dataSource = sp.GetRequiredService<NpgsqlDataSource>();
        using var _ = Enter(sp, "q-release-period");

        var documents = await quotas.ReserveAsync("documents", 3, default);
        Assert.Equal(2, (await quotas.ReleaseReservationAsync("documents", 1, documents.PeriodStart, default)).Used); // null: a standing count
        var jobs = await quotas.ReserveAsync("jobs", 2, default);
        await using (var connection = await dataSource.OpenConnectionAsync())
        {
            Assert.Equal(1, (await quotas.ReleaseReservationAsync("jobs", 1, jobs.PeriodStart, connection, null)).Used);
        }

        await Assert.ThrowsAsync<ArgumentException>(() => quotas.ReleaseReservationAsync("jobs", 1, null, default));
        await Assert.ThrowsAsync<ArgumentException>(() => quotas.ReleaseReservationAsync("jobs", 1, _time.GetUtcNow(), default)); // 22:00, not a day start
        await Assert.ThrowsAsync<ArgumentException>(() => quotas.ReleaseReservationAsync("exports", 1, jobs.PeriodStart, default)); // the 23rd, not a month start
        await Assert.ThrowsAsync<ArgumentException>(() => quotas.ReleaseReservationAsync("documents", 1, jobs.PeriodStart, default));
    }

    [Fact]
    public async Task Limits_follow_the_tenants_plan_and_usage_is_reported_for_every_resource()
    {
        await using var sp = Build(new() { ["q-pro"] = "pro" });
        var quotas = sp.GetRequiredService<IQuotaService>();
        using var _ = Enter(sp, "q-pro");

        await quotas.ReserveAsync("documents", 500, default);
        var usages = await quotas.GetUsagesAsync();

        Assert.Equal(["documents", "exports", "jobs"], usages.Select(u => u.Resource));
        Assert.Equal(500, usages[0].Used);
        Assert.Equal(1000, usages[0].Limit);
        Assert.Null(usages[1].Limit); // the pro plan does not list exports: unlimited
        Assert.Null(usages[1].Remaining);
    }

    [Fact]
    public async Task A_plan_change_applies_to_the_tenants_next_reservation()
    {
        // Limits are not cached (the rate limiter's PlanCacheDuration, a minute by default, does not apply): an upgrade
        // lifts the limit at once, with the clock standing still.
        var tenant = $"q-upgrade-{Guid.NewGuid():N}";
        var plans = new Dictionary<string, string> { [tenant] = "free" };
        await using var sp = Build(plans);
        var quotas = sp.GetRequiredService<IQuotaService>();
        using var _ = Enter(sp, tenant);
        await quotas.ReserveAsync("documents", 20, default);
        await Assert.ThrowsAsync<QuotaExceededException>(() => quotas.ReserveAsync("documents", 1, default));

        plans[tenant] = "pro";
        var usage = await quotas.ReserveAsync("documents", 1, default);
        Assert.Equal(1000, usage.Limit);
        Assert.Equal(21, usage.Used);
    }

    [Fact]
    public async Task Bad_calls_fail_clearly()
    {
        await using var sp = Build(new() { ["q-bad-plan"] = "gold" });
        var quotas = sp.GetRequiredService<IQuotaService>();

        await Assert.ThrowsAsync<TenantRequiredException>(() => quotas.ReserveAsync("documents", 1, default));
        using (Enter(sp, "q-bad"))
        {
            var unknown = await Assert.ThrowsAsync<ArgumentException>(() => quotas.ReserveAsync("pages", 1, default));
            Assert.Contains("'pages' is not declared in ScaleOps:Resilience:Quotas:Resources; declared: documents, exports, jobs", unknown.Message,
                StringComparison.Ordinal);
            await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => quotas.ReserveAsync("documents", 0, default));
            await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => quotas.ReleaseAsync("documents", -1, default));
        }

        using (Enter(sp, "q-bad-plan"))
        {
            var plan = await Assert.ThrowsAsync<UnknownPlanException>(() => quotas.ReserveAsync("documents", 1, default));
            Assert.Contains("'gold' is not configured in ScaleOps:Resilience:Quotas:Plans", plan.Message, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task Limits_come_from_the_hosts_source_and_a_limit_below_one_fails_naming_the_source_tenant_resource_and_value()
    {
        await using var sp = TestHost.Build(
            o =>
            {
                o.Quotas.Resources["documents"] = QuotaPeriod.None;
                o.Quotas.Resources["exports"] = QuotaPeriod.Month;
                o.Quotas.Plans["default"] = new() { ["documents"] = 1000, ["exports"] = 1000 }; // not used: the host's source answers
            },
            _time,
            database.ConnectionString,
            s => s.AddSingleton<IQuotaLimitSource>(new HostLimits(new() { ["documents"] = 2, ["exports"] = -5 })));
        var quotas = sp.GetRequiredService<IQuotaService>();
        using var _ = Enter(sp, $"q-host-{Guid.NewGuid():N}");

        await quotas.ReserveAsync("documents", 2, default);
        var exceeded = await Assert.ThrowsAsync<QuotaExceededException>(() => quotas.ReserveAsync("documents", 1, default));
        Assert.Equal(2, exceeded.Limit); // the host's limit, not the options' 1000

        var bad = await Assert.ThrowsAsync<InvalidOperationException>(() => quotas.ReserveAsync("exports", 1, default));
        Assert.IsNotType<QuotaExceededException>(bad);
        Assert.Contains(typeof(HostLimits).FullName!, bad.Message, StringComparison.Ordinal);
        Assert.Contains("returned -5 as the limit of 'exports' for tenant 'q-host-", bad.Message, StringComparison.Ordinal);
        await Assert.ThrowsAsync<InvalidOperationException>(() => quotas.GetUsageAsync("exports"));
    }

    [Fact]
    public async Task Reservations_near_the_largest_count_are_refused_with_QuotaExceededException_not_an_overflow()
    {
        await using var sp = TestHost.Build(
            o => o.Quotas.Resources["bytes"] = QuotaPeriod.None,
            _time,
            database.ConnectionString,
            s => s.AddSingleton<IQuotaLimitSource>(new HostLimits(new() { ["bytes"] = long.MaxValue })));
        var quotas = sp.GetRequiredService<IQuotaService>();
        using var _ = Enter(sp, $"q-huge-{Guid.NewGuid():N}");

        Assert.Equal(long.MaxValue - 1, (await quotas.ReserveAsync("bytes", long.MaxValue - 1, default)).Used);
        var exceeded = await Assert.ThrowsAsync<QuotaExceededException>(() => quotas.ReserveAsync("bytes", 2, default));
        Assert.Equal((long.MaxValue, long.MaxValue - 1, 2L), (exceeded.Limit, exceeded.Usage, exceeded.Requested));
        Assert.Equal(long.MaxValue, (await quotas.ReserveAsync("bytes", 1, default)).Used); // exactly up to the limit
    }

    [Fact]
    public async Task An_unlimited_resource_refuses_a_reservation_past_the_largest_count_with_QuotaExceededException()
    {
        await using var sp = TestHost.Build(o => o.Quotas.Resources["bytes"] = QuotaPeriod.None, _time, database.ConnectionString);
        var quotas = sp.GetRequiredService<IQuotaService>();
        using var _ = Enter(sp, $"q-unlimited-{Guid.NewGuid():N}");

        await quotas.ReserveAsync("bytes", long.MaxValue, default);
        var exceeded = await Assert.ThrowsAsync<QuotaExceededException>(() => quotas.ReserveAsync("bytes", 1, default));
        Assert.Equal((long.MaxValue, long.MaxValue), (exceeded.Limit, exceeded.Usage));
        Assert.Equal(long.MaxValue, (await quotas.GetUsageAsync("bytes")).Used);
    }

    /// <summary>A host's own limit store (per-tenant overrides, say): here a dictionary, one limit deliberately invalid.</summary>
    private sealed class HostLimits(Dictionary<string, long> limits) : IQuotaLimitSource
    {
        public ValueTask<long?> GetLimitAsync(TenantId tenant, string resource, CancellationToken cancellationToken) =>
            ValueTask.FromResult<long?>(limits.TryGetValue(resource, out var limit) ? limit : null);
    }
}
