using System;
using System.Collections.Generic;
using System.Threading;
using System.Threading.Tasks;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using ScaleOps.Resilience.Quotas;
using ScaleOps.Resilience.RateLimiting;
using ScaleOps.Tenancy;

namespace ScaleOps.Resilience.Tests.Quotas;

/// <summary>Releases: what they need (not the limit).</summary>
public partial class QuotaServiceTests
{
    [Fact]
    public async Task A_release_does_not_need_the_limit_source()
    {
        var source = new SwitchableLimits(10);
        await using var sp = TestHost.Build(
            o =>
            {
                o.Quotas.Resources["documents"] = QuotaPeriod.None;
                o.Quotas.Resources["exports"] = QuotaPeriod.Month;
            },
            _time,
            database.ConnectionString,
            s => s.AddSingleton<IQuotaLimitSource>(source));
        var quotas = sp.GetRequiredService<IQuotaService>();
        var dataSource = sp.GetRequiredService<NpgsqlDataSource>();
        using var _ = Enter(sp, $"q-source-down-{Guid.NewGuid():N}");
        await quotas.ReserveAsync("documents", 3, default);
        var export = await quotas.ReserveAsync("exports", 2, default);

        source.Down = true; // the host's limit store is unreachable: reserving fails, giving back must not
        var released = await quotas.ReleaseAsync("documents", 1, default);
        Assert.Equal(("documents", 1L, 2L), (released.Resource, released.Released, released.Used));
        Assert.Equal(1, (await quotas.ReleaseReservationAsync("exports", 1, export.PeriodStart, default)).Used);
        await using (var connection = await dataSource.OpenConnectionAsync())
        {
            Assert.Equal(1, (await quotas.ReleaseAsync("documents", 1, connection, null)).Used);
            Assert.Equal(0, (await quotas.ReleaseReservationAsync("exports", 1, export.PeriodStart, connection, null)).Used);
        }

        Assert.Equal(0, source.CallsWhileDown);
        await Assert.ThrowsAsync<InvalidOperationException>(() => quotas.ReserveAsync("documents", 1, default));
    }

    [Fact]
    public async Task A_release_works_after_the_tenants_plan_was_removed()
    {
        var plans = new Dictionary<string, string>();
        await using var sp = Build(plans);
        var quotas = sp.GetRequiredService<IQuotaService>();
        var tenant = $"q-plan-gone-{Guid.NewGuid():N}";
        plans[tenant] = "pro";
        using var _ = Enter(sp, tenant);
        await quotas.ReserveAsync("documents", 5, default);

        plans[tenant] = "retired"; // the plan is no longer configured: its limits are unknown
        await Assert.ThrowsAsync<UnknownPlanException>(() => quotas.ReserveAsync("documents", 1, default));
        Assert.Equal(4, (await quotas.ReleaseAsync("documents", 1, default)).Used);
    }

    /// <summary>A host's limit store that can be taken down: every lookup then throws, as a store that is unreachable.</summary>
    private sealed class SwitchableLimits(long limit) : IQuotaLimitSource
    {
        private int _callsWhileDown;

        public volatile bool Down;

        public int CallsWhileDown => Volatile.Read(ref _callsWhileDown);

        public ValueTask<long?> GetLimitAsync(TenantId tenant, string resource, CancellationToken cancellationToken)
        {
            if (Down)
            {
                Interlocked.Increment(ref _callsWhileDown);
                throw new InvalidOperationException("The limit store is unreachable.");
            }

            return ValueTask.FromResult<long?>(limit);
        }
    }
}
