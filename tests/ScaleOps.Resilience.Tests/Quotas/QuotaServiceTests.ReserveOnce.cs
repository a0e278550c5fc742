using System;
using System.Linq;
using System.Threading.Tasks;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using ScaleOps.Resilience.Quotas;
using ScaleOps.Tenancy;
using ScaleOps.TestInfrastructure;

namespace ScaleOps.Resilience.Tests.Quotas;

/// <summary>
/// Reservations with an id the caller chose (<c>ReserveOnceAsync</c>): a repeat, after a lost reply or concurrent, must
/// reserve nothing more and return the same reservation, so it can still be given back once.
/// </summary>
public partial class QuotaServiceTests
{
    [Fact]
    public async Task Repeating_a_reservation_with_its_id_reserves_once_and_returns_the_same_reservation()
    {
        await using var sp = Build();
        var quotas = sp.GetRequiredService<IQuotaService>();
        var tenant = $"q-once-repeat-{Guid.NewGuid():N}";
        using var _ = Enter(sp, tenant);
        var id = Guid.NewGuid();

        var first = await quotas.ReserveOnceAsync("documents", 3, id, default);
        Assert.Equal(new QuotaReservation(id, new TenantId(tenant), "documents", 3, null), first.Reservation);
        Assert.Equal((3, 20L), (first.Used, first.Limit));
        var again = await quotas.ReserveOnceAsync("documents", 3, id, default); // the caller never saw the first reply
        Assert.Equal(first.Reservation, again.Reservation);
        Assert.Equal((3, 20L), (again.Used, again.Limit));

        var other = await quotas.ReserveOnceAsync("documents", 2, Guid.NewGuid(), default); // a new id is a new reservation
        Assert.Equal(5, other.Used);
        Assert.Equal(5, (await quotas.GetUsageAsync("documents")).Used);
    }

    [Fact]
    public async Task Eight_concurrent_repeats_of_one_id_reserve_once()
    {
        await using var sp = Build();
        var quotas = sp.GetRequiredService<IQuotaService>();
        using var _ = Enter(sp, $"q-once-concurrent-{Guid.NewGuid():N}");
        await quotas.ReserveAsync("documents", 1, default); // held by another reservation, made without an id
        var id = Guid.NewGuid();

        var repeats = await Task.WhenAll(Enumerable.Range(0, 8).Select(_ => Task.Run(() => quotas.ReserveOnceAsync("documents", 4, id, default))))
            .WaitAsync("8 concurrent repeats of one reservation");

        Assert.Single(repeats.Select(r => r.Reservation).Distinct());
        Assert.Equal(id, repeats[0].Reservation!.Id);
        Assert.Equal(5, (await quotas.GetUsageAsync("documents")).Used);
        Assert.Equal(4, (await quotas.ReleaseOnceAsync(repeats[0].Reservation!, default)).Released);
        Assert.Equal(1, (await quotas.GetUsageAsync("documents")).Used);
    }

    [Fact]
    public async Task A_repeat_that_asks_for_something_else_is_refused_naming_what_differs_and_reserves_nothing()
    {
        await using var sp = Build();
        var quotas = sp.GetRequiredService<IQuotaService>();
        var tenant = $"q-once-mismatch-{Guid.NewGuid():N}";
        var id = Guid.NewGuid();
        using (Enter(sp, tenant))
        {
            await quotas.ReserveOnceAsync("documents", 3, id, default);
            var amount = await Assert.ThrowsAsync<ArgumentException>(() => quotas.ReserveOnceAsync("documents", 4, id, default));
            Assert.Contains("it reserved 3 of 'documents', this call asks for 4 (the amount differs)", amount.Message, StringComparison.Ordinal);
            Assert.Equal("reservationId", amount.ParamName);
            var resource = await Assert.ThrowsAsync<ArgumentException>(() => quotas.ReserveOnceAsync("jobs", 3, id, default));
            Assert.Contains("it reserved 'documents', this call asks for 'jobs' (the resource differs)", resource.Message, StringComparison.Ordinal);
            Assert.Equal(0, (await quotas.GetUsageAsync("jobs")).Used);
            var empty = await Assert.ThrowsAsync<ArgumentException>(() => quotas.ReserveOnceAsync("documents", 3, Guid.Empty, default));
            Assert.Contains("The reservation id is empty", empty.Message, StringComparison.Ordinal);
        }

        using (Enter(sp, "q-once-someone-else"))
        {
            var other = await Assert.ThrowsAsync<ArgumentException>(() => quotas.ReserveOnceAsync("documents", 3, id, default));
            Assert.Contains("reserved for another tenant than 'q-once-someone-else' (the tenant differs)", other.Message, StringComparison.Ordinal);
            Assert.DoesNotContain(tenant, other.Message, StringComparison.Ordinal); // the tenant that holds the id is not told
            Assert.Equal(0, (await quotas.GetUsageAsync("documents")).Used);
        }

        using (Enter(sp, tenant))
        {
            Assert.Equal(3, (await quotas.GetUsageAsync("documents")).Used);
        }
    }

    [Fact]
    public async Task A_repeat_after_the_reservation_was_released_reserves_nothing_and_the_release_stays_once()
    {
        await using var sp = Build();
        var quotas = sp.GetRequiredService<IQuotaService>();
        using var _ = Enter(sp, $"q-once-released-{Guid.NewGuid():N}");
        await quotas.ReserveAsync("documents", 2, default); // another reservation, still held
        var id = Guid.NewGuid();
        var reservation = (await quotas.ReserveOnceAsync("documents", 3, id, default)).Reservation!;
        var released = await quotas.ReleaseOnceAsync(reservation, default);
        Assert.Equal((3, 2), (released.Released, released.Used));

        var late = await quotas.ReserveOnceAsync("documents", 3, id, default); // a retry that arrives after the release
        Assert.Equal(reservation, late.Reservation);
        Assert.Equal(2, late.Used);
        Assert.Equal(0, (await quotas.ReleaseOnceAsync(late.Reservation!, default)).Released);
        Assert.Equal(2, (await quotas.GetUsageAsync("documents")).Used);
    }

    [Fact]
    public async Task A_reservation_released_before_it_was_ever_made_is_not_made_afterwards()
    {
        await using var sp = Build();
        var quotas = sp.GetRequiredService<IQuotaService>();
        var tenant = $"q-once-released-first-{Guid.NewGuid():N}";
        using var _ = Enter(sp, tenant);
        await quotas.ReserveAsync("documents", 5, default);
        var id = Guid.NewGuid();

        // The caller gave up on a reservation whose request had not arrived yet, and gave it back: the release cannot
        // tell (it gives back 2 of the other 5); the reservation arriving after it must not be made, or it would be held
        // for good (a second release of the id gives nothing back).
        Assert.Equal(2, (await quotas.ReleaseOnceAsync(new QuotaReservation(id, new TenantId(tenant), "documents", 2, null), default)).Released);
        var refused = await Assert.ThrowsAsync<InvalidOperationException>(() => quotas.ReserveOnceAsync("documents", 2, id, default));
        Assert.Contains($"{id} was already given back by ReleaseOnceAsync before this reservation", refused.Message, StringComparison.Ordinal);
        Assert.Equal(3, (await quotas.GetUsageAsync("documents")).Used);
    }

    [Fact]
    public async Task A_reservation_rolled_back_with_the_callers_transaction_is_made_once_when_repeated_with_its_id()
    {
        await using var sp = Build();
        var quotas = sp.GetRequiredService<IQuotaService>();
        var dataSource = sp.GetRequiredService<NpgsqlDataSource>();
        using var _ = Enter(sp, $"q-once-tx-{Guid.NewGuid():N}");
        var id = Guid.NewGuid();

        await using (var connection = await dataSource.OpenConnectionAsync())
        await using (var tx = await connection.BeginTransactionAsync())
        {
            Assert.Equal(4, (await quotas.ReserveOnceAsync("documents", 4, id, connection, tx)).Used);
            Assert.Equal(4, (await quotas.ReserveOnceAsync("documents", 4, id, connection, tx)).Used); // a repeat in the same transaction
            await tx.RollbackAsync(); // the caller's write failed: nothing was reserved, the id is free again
        }

        Assert.Equal(0, (await quotas.GetUsageAsync("documents")).Used);
        QuotaReservation reservation;
        await using (var connection = await dataSource.OpenConnectionAsync())
        await using (var tx = await connection.BeginTransactionAsync())
        {
            reservation = (await quotas.ReserveOnceAsync("documents", 4, id, connection, tx)).Reservation!;
            await tx.CommitAsync();
        }

        await using (var connection = await dataSource.OpenConnectionAsync())
        {
            var repeat = await quotas.ReserveOnceAsync("documents", 4, id, connection, null);
            Assert.Equal((reservation, 4L), (repeat.Reservation, repeat.Used));
        }

        Assert.Equal(4, (await quotas.GetUsageAsync("documents")).Used);
        Assert.Equal(4, (await quotas.ReleaseOnceAsync(reservation, default)).Released);
    }

    [Fact]
    public async Task A_reservation_refused_by_the_limit_leaves_its_id_free()
    {
        await using var sp = Build();
        var quotas = sp.GetRequiredService<IQuotaService>();
        var dataSource = sp.GetRequiredService<NpgsqlDataSource>();
        using var _ = Enter(sp, $"q-once-limit-{Guid.NewGuid():N}");
        var held = (await quotas.ReserveOnceAsync("documents", 18, Guid.NewGuid(), default)).Reservation!;
        var id = Guid.NewGuid();

        var ex = await Assert.ThrowsAsync<QuotaExceededException>(() => quotas.ReserveOnceAsync("documents", 3, id, default));
        Assert.Equal((20, 18, 3), (ex.Limit, ex.Usage, ex.Requested));
        await using (var connection = await dataSource.OpenConnectionAsync())
        await using (var tx = await connection.BeginTransactionAsync())
        {
            await Assert.ThrowsAsync<QuotaExceededException>(() => quotas.ReserveOnceAsync("documents", 3, id, connection, tx));
            await tx.CommitAsync(); // the caller's transaction is still usable, and commits no claim of the id
        }

        await quotas.ReleaseOnceAsync(held, default);
        var made = await quotas.ReserveOnceAsync("documents", 3, id, default); // the same id, now within the limit
        Assert.Equal((3, id), (made.Used, made.Reservation!.Id));
    }

    [Fact]
    public async Task A_repeat_after_a_period_boundary_returns_the_reservation_of_its_own_period()
    {
        await using var sp = Build();
        var quotas = sp.GetRequiredService<IQuotaService>();
        using var _ = Enter(sp, $"q-once-boundary-{Guid.NewGuid():N}");
        var id = Guid.NewGuid();
        var november = (await quotas.ReserveOnceAsync("exports", 2, id, default)).Reservation!;

        _time.Advance(TimeSpan.FromDays(10)); // December
        var repeat = await quotas.ReserveOnceAsync("exports", 2, id, default);
        Assert.Equal(november, repeat.Reservation);
        Assert.Equal((2, november.PeriodStart), (repeat.Used, repeat.PeriodStart));
        Assert.Equal(0, (await quotas.GetUsageAsync("exports")).Used); // December's quota untouched
    }
}
