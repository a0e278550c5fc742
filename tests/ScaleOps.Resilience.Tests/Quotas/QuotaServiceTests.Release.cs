using System;
using System.Collections.Generic;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using ScaleOps.Resilience.Quotas;
using ScaleOps.Resilience.RateLimiting;
using ScaleOps.Tenancy;
using ScaleOps.TestInfrastructure;

namespace ScaleOps.Resilience.Tests.Quotas;

/// <summary>Releases: what they need (not the limit), and what a second release of one reservation does.</summary>
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

    [Fact]
    public async Task Releasing_the_same_reservation_twice_gives_it_back_once()
    {
        await using var sp = Build();
        var quotas = sp.GetRequiredService<IQuotaService>();
        using var _ = Enter(sp, $"q-twice-{Guid.NewGuid():N}");
        var first = (await quotas.ReserveAsync("documents", 3, default)).Reservation!;
        await quotas.ReserveAsync("documents", 2, default); // another reservation, still held

        var released = await quotas.ReleaseOnceAsync(first, default);
        Assert.Equal((3, 2), (released.Released, released.Used));
        var again = await quotas.ReleaseOnceAsync(first, default); // a retry after a lost reply, say
        Assert.Equal((0, 2), (again.Released, again.Used));

        Assert.Equal(2, (await quotas.GetUsageAsync("documents")).Used);
    }

    [Fact]
    public async Task A_reservation_is_given_back_once_to_its_own_period_after_a_period_boundary()
    {
        await using var sp = Build();
        var quotas = sp.GetRequiredService<IQuotaService>();
        using var _ = Enter(sp, $"q-once-boundary-{Guid.NewGuid():N}");
        var november = (await quotas.ReserveAsync("exports", 2, default)).Reservation!;
        Assert.Equal(new DateTimeOffset(2026, 11, 1, 0, 0, 0, TimeSpan.Zero), november.PeriodStart);
        Assert.Equal(("exports", 2L), (november.Resource, november.Amount));

        _time.Advance(TimeSpan.FromDays(10)); // December: its own, untouched period
        await quotas.ReserveAsync("exports", 1, default);
        var released = await quotas.ReleaseOnceAsync(november, default);
        Assert.Equal((2, 0, november.PeriodStart), (released.Released, released.Used, released.PeriodStart));
        Assert.Equal(0, (await quotas.ReleaseOnceAsync(november, default)).Released);
        Assert.Equal(1, (await quotas.GetUsageAsync("exports")).Used);
    }

    [Fact]
    public async Task A_periodic_reservation_is_not_given_back_after_the_next_month_and_old_release_rows_are_deleted()
    {
        await using var sp = Build();
        var quotas = sp.GetRequiredService<IQuotaService>();
        var dataSource = sp.GetRequiredService<NpgsqlDataSource>();
        var tenant = $"q-release-window-{Guid.NewGuid():N}";
        using var _ = Enter(sp, tenant);
        var released = (await quotas.ReserveAsync("exports", 1, default)).Reservation!; // November 2026
        var late = (await quotas.ReserveAsync("exports", 1, default)).Reservation!;
        var standing = (await quotas.ReserveAsync("documents", 4, default)).Reservation!;
        Assert.Equal(1, (await quotas.ReleaseOnceAsync(released, default)).Released);

        _time.Advance(TimeSpan.FromDays(40)); // January 2027: November and December have ended
        var tooLate = await quotas.ReleaseOnceAsync(late, default);
        Assert.Equal((0, 1), (tooLate.Released, tooLate.Used)); // November keeps it
        Assert.Equal(4, (await quotas.ReleaseOnceAsync(standing, default)).Released); // a standing count has no such end
        Assert.Equal(0, (await quotas.ReleaseOnceAsync(released, default)).Released);

        // November's release row went with those releases; the standing count's stays, so it is still given back once.
        Assert.Equal(["documents"], await ReleaseRowsAsync(dataSource, tenant));
        Assert.Equal(0, (await quotas.ReleaseOnceAsync(standing, default)).Released);
        Assert.Equal(0, (await quotas.GetUsageAsync("documents")).Used);
    }

    private static async Task<List<string>> ReleaseRowsAsync(NpgsqlDataSource dataSource, string tenant)
    {
        await using var command = dataSource.CreateCommand("SELECT resource FROM scaleops.quota_release WHERE tenant_id = $1 ORDER BY 1");
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = tenant });
        var rows = new List<string>();
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync())
        {
            rows.Add(reader.GetString(0));
        }

        return rows;
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task Two_concurrent_releases_of_the_same_reservation_give_it_back_once(bool firstCommits)
    {
        await using var sp = Build();
        var quotas = sp.GetRequiredService<IQuotaService>();
        var dataSource = sp.GetRequiredService<NpgsqlDataSource>();
        using var _ = Enter(sp, $"q-concurrent-release-{Guid.NewGuid():N}");
        var first = (await quotas.ReserveAsync("documents", 3, default)).Reservation!;
        await quotas.ReserveAsync("documents", 2, default);

        // The first release holds its transaction open; the second, on another connection, must wait for it, then give
        // back nothing if it committed, or the reservation if it rolled back.
        await using var connection = await dataSource.OpenConnectionAsync();
        await using var tx = await connection.BeginTransactionAsync();
        Assert.Equal(3, (await quotas.ReleaseOnceAsync(first, connection, tx)).Released);
        var second = quotas.ReleaseOnceAsync(first, default);
        await TestSignal.UntilAsync(async () => second.IsCompleted || await WaitingOnALockAsync(dataSource), "the second release to wait for the first's lock");
        Assert.False(second.IsCompleted, "the second release did not wait for the first one's transaction");
        if (firstCommits)
        {
            await tx.CommitAsync();
        }
        else
        {
            await tx.RollbackAsync();
        }

        var released = await second.WaitAsync("the second release");
        Assert.Equal((firstCommits ? 0 : 3, 2), (released.Released, released.Used));
        Assert.Equal(2, (await quotas.GetUsageAsync("documents")).Used);
    }

    [Fact]
    public async Task Many_concurrent_releases_of_one_reservation_give_it_back_once()
    {
        await using var sp = Build();
        var quotas = sp.GetRequiredService<IQuotaService>();
        using var _ = Enter(sp, $"q-many-releases-{Guid.NewGuid():N}");
        var first = (await quotas.ReserveAsync("documents", 3, default)).Reservation!;
        await quotas.ReserveAsync("documents", 2, default);

        var releases = await Task.WhenAll(Enumerable.Range(0, 20).Select(_ => Task.Run(() => quotas.ReleaseOnceAsync(first, default))))
            .WaitAsync("20 concurrent releases of one reservation");

        Assert.Equal([0, 3], releases.Select(r => r.Released).Distinct().Order());
        Assert.Single(releases, r => r.Released == 3);
        Assert.Equal(2, (await quotas.GetUsageAsync("documents")).Used);
    }

    [Fact]
    public async Task A_reservation_that_is_not_one_ReserveAsync_returned_for_the_ambient_tenant_is_refused_naming_the_problem()
    {
        await using var sp = Build();
        var quotas = sp.GetRequiredService<IQuotaService>();
        var tenant = $"q-bad-reservation-{Guid.NewGuid():N}";
        QuotaReservation reservation;
        using (Enter(sp, tenant))
        {
            reservation = (await quotas.ReserveAsync("jobs", 1, default)).Reservation!;
            await Assert.ThrowsAsync<ArgumentNullException>(() => quotas.ReleaseOnceAsync(null!, default));
            var empty = await Assert.ThrowsAsync<ArgumentException>(() => quotas.ReleaseOnceAsync(reservation with { Id = Guid.Empty }, default));
            Assert.Contains("Id is empty", empty.Message, StringComparison.Ordinal);
            var unknown = await Assert.ThrowsAsync<ArgumentException>(() => quotas.ReleaseOnceAsync(reservation with { Resource = "pages" }, default));
            Assert.Contains("'pages' is not declared", unknown.Message, StringComparison.Ordinal);
            await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => quotas.ReleaseOnceAsync(reservation with { Amount = 0 }, default));
            var period = await Assert.ThrowsAsync<ArgumentException>(() => quotas.ReleaseOnceAsync(reservation with { PeriodStart = _time.GetUtcNow() }, default));
            Assert.Contains("is not the start of a UTC day", period.Message, StringComparison.Ordinal);
        }

        using (Enter(sp, "q-someone-else"))
        {
            var other = await Assert.ThrowsAsync<ArgumentException>(() => quotas.ReleaseOnceAsync(reservation, default));
            Assert.Contains($"made for tenant '{tenant}', but the ambient tenant is 'q-someone-else'", other.Message, StringComparison.Ordinal);
        }

        await Assert.ThrowsAsync<TenantRequiredException>(() => quotas.ReleaseOnceAsync(reservation, default)); // no ambient tenant

        using (Enter(sp, tenant))
        {
            Assert.Equal(1, (await quotas.GetUsageAsync("jobs")).Used); // none of the refused calls gave anything back
            Assert.Equal(1, (await quotas.ReleaseOnceAsync(reservation, default)).Released);
        }
    }

    private static async Task<bool> WaitingOnALockAsync(NpgsqlDataSource dataSource)
    {
        await using var command = dataSource.CreateCommand(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'");
        return (long)(await command.ExecuteScalarAsync())! > 0;
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
