using System;
using System.Threading.Tasks;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using ScaleOps.Resilience.Quotas;
using ScaleOps.Tenancy;

namespace ScaleOps.Resilience.Tests.Quotas;

/// <summary>
/// The release of a reservation made with an id (<c>ReserveOnceAsync</c>) is checked against the reservation recorded
/// with that id: a caller that rebuilt the reservation from its own values with a wrong amount, resource or period must
/// not give back the wrong amount or free the wrong period.
/// </summary>
public partial class QuotaServiceTests
{
    [Fact]
    public async Task A_release_of_a_reservation_made_with_an_id_but_with_another_amount_is_refused_and_gives_back_nothing()
    {
        await using var sp = Build();
        var quotas = sp.GetRequiredService<IQuotaService>();
        using var _ = Enter(sp, $"q-release-amount-{Guid.NewGuid():N}");
        await quotas.ReserveAsync("documents", 4, default); // another reservation, still held
        var reservation = (await quotas.ReserveOnceAsync("documents", 3, Guid.NewGuid(), default)).Reservation!;

        var wrong = await Assert.ThrowsAsync<ArgumentException>(() => quotas.ReleaseOnceAsync(reservation with { Amount = 5 }, default));
        Assert.Contains("it reserved 3, this release gives back 5 (the amount differs)", wrong.Message, StringComparison.Ordinal);
        Assert.Equal("reservation", wrong.ParamName);
        Assert.Equal(7, (await quotas.GetUsageAsync("documents")).Used);

        var released = await quotas.ReleaseOnceAsync(reservation, default); // the refusal recorded no release
        Assert.Equal((3, 4), (released.Released, released.Used));
    }

    [Fact]
    public async Task A_release_with_another_resource_or_period_than_the_reservation_made_with_its_id_is_refused_naming_each_difference()
    {
        await using var sp = Build();
        var quotas = sp.GetRequiredService<IQuotaService>();
        using var _ = Enter(sp, $"q-release-period-{Guid.NewGuid():N}");
        var november = (await quotas.ReserveOnceAsync("exports", 2, Guid.NewGuid(), default)).Reservation!;

        _time.Advance(TimeSpan.FromDays(10)); // 2026-12-03
        var december = await quotas.ReserveAsync("exports", 2, default);
        await quotas.ReserveAsync("jobs", 1, default);
        var period = await Assert.ThrowsAsync<ArgumentException>(
            () => quotas.ReleaseOnceAsync(november with { PeriodStart = december.PeriodStart }, default)); // frees December: wrong
        Assert.Contains(
            "it was reserved in the period starting 2026-11-01 (UTC), this release gives back to the period starting 2026-12-01 (UTC) (the period differs)",
            period.Message, StringComparison.Ordinal);
        var jobs = await Assert.ThrowsAsync<ArgumentException>(() => quotas.ReleaseOnceAsync(
            november with { Resource = "jobs", Amount = 1, PeriodStart = new DateTimeOffset(2026, 12, 3, 0, 0, 0, TimeSpan.Zero) }, default));
        Assert.Contains(
            "it reserved 'exports', this release gives back 'jobs' (the resource differs); it reserved 2, this release gives back 1 (the amount differs); "
            + "it was reserved in the period starting 2026-11-01 (UTC), this release gives back to the period starting 2026-12-03 (UTC) (the period differs)",
            jobs.Message, StringComparison.Ordinal);
        Assert.Equal((2, 1), ((await quotas.GetUsageAsync("exports")).Used, (await quotas.GetUsageAsync("jobs")).Used));

        var released = await quotas.ReleaseOnceAsync(november, default); // to its own period, November
        Assert.Equal((2, 0, november.PeriodStart), (released.Released, released.Used, released.PeriodStart));
        Assert.Equal(2, (await quotas.GetUsageAsync("exports")).Used);
    }

    [Fact]
    public async Task A_release_by_another_tenant_of_an_id_reserved_with_ReserveOnceAsync_is_refused_without_naming_the_tenant_that_holds_it()
    {
        await using var sp = Build();
        var quotas = sp.GetRequiredService<IQuotaService>();
        var owner = $"q-release-owner-{Guid.NewGuid():N}";
        var other = $"q-release-other-{Guid.NewGuid():N}";
        var id = Guid.NewGuid();
        QuotaReservation reservation;
        using (Enter(sp, owner))
        {
            reservation = (await quotas.ReserveOnceAsync("documents", 3, id, default)).Reservation!;
        }

        using (Enter(sp, other))
        {
            await quotas.ReserveAsync("documents", 3, default); // its own, still held
            var refused = await Assert.ThrowsAsync<ArgumentException>(
                () => quotas.ReleaseOnceAsync(reservation with { Tenant = new TenantId(other) }, default));
            Assert.Contains($"it was reserved for another tenant than '{other}' (the tenant differs)", refused.Message, StringComparison.Ordinal);
            Assert.DoesNotContain(owner, refused.Message, StringComparison.Ordinal);
            Assert.DoesNotContain("documents", refused.Message, StringComparison.Ordinal); // nothing else of the other tenant's record either
            Assert.Equal(3, (await quotas.GetUsageAsync("documents")).Used);
        }

        using (Enter(sp, owner))
        {
            Assert.Equal((3, 0), await ReleasedAndUsedAsync(quotas.ReleaseOnceAsync(reservation, default)));
        }
    }

    [Fact]
    public async Task A_release_inside_the_callers_transaction_is_checked_against_a_reservation_made_in_that_same_transaction()
    {
        await using var sp = Build();
        var quotas = sp.GetRequiredService<IQuotaService>();
        var dataSource = sp.GetRequiredService<NpgsqlDataSource>();
        using var _ = Enter(sp, $"q-release-tx-{Guid.NewGuid():N}");
        await quotas.ReserveAsync("documents", 4, default);

        await using (var connection = await dataSource.OpenConnectionAsync())
        await using (var tx = await connection.BeginTransactionAsync())
        {
            var reservation = (await quotas.ReserveOnceAsync("documents", 3, Guid.NewGuid(), connection, tx)).Reservation!; // not committed yet
            var wrong = await Assert.ThrowsAsync<ArgumentException>(() => quotas.ReleaseOnceAsync(reservation with { Amount = 4 }, connection, tx));
            Assert.Contains("it reserved 3, this release gives back 4 (the amount differs)", wrong.Message, StringComparison.Ordinal);
            Assert.Equal((3, 4), await ReleasedAndUsedAsync(quotas.ReleaseOnceAsync(reservation, connection, tx))); // the transaction is still usable
            await tx.CommitAsync();
        }

        Assert.Equal(4, (await quotas.GetUsageAsync("documents")).Used);
    }

    [Fact]
    public async Task A_mismatched_release_is_refused_after_the_reservation_was_given_back_and_ids_made_by_ReserveAsync_are_not_checked()
    {
        await using var sp = Build();
        var quotas = sp.GetRequiredService<IQuotaService>();
        using var _ = Enter(sp, $"q-release-after-{Guid.NewGuid():N}");
        var withoutId = (await quotas.ReserveAsync("documents", 5, default)).Reservation!;
        var reservation = (await quotas.ReserveOnceAsync("documents", 3, Guid.NewGuid(), default)).Reservation!;
        Assert.Equal((3, 5), await ReleasedAndUsedAsync(quotas.ReleaseOnceAsync(reservation, default)));

        await Assert.ThrowsAsync<ArgumentException>(() => quotas.ReleaseOnceAsync(reservation with { Amount = 1 }, default));
        Assert.Equal((0, 5), await ReleasedAndUsedAsync(quotas.ReleaseOnceAsync(reservation, default)));

        // ReserveAsync records nothing of its reservations, so their releases cannot be checked: as before, the caller's values count.
        Assert.Equal((2, 3), await ReleasedAndUsedAsync(quotas.ReleaseOnceAsync(withoutId with { Amount = 2 }, default)));
    }

    private static async Task<(long Released, long Used)> ReleasedAndUsedAsync(Task<QuotaRelease> release)
    {
        var released = await release;
        return (released.Released, released.Used);
    }
}
