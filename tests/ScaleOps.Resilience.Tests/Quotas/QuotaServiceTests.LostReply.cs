using System;
using System.Threading;
using System.Threading.Tasks;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using ScaleOps.Resilience.Quotas;
using ScaleOps.TestInfrastructure;

namespace ScaleOps.Resilience.Tests.Quotas;

/// <summary>
/// A reservation whose reply is lost after the server committed it, through a proxy that stops passing the server's
/// bytes; and how long the ids of reservations are kept.
/// </summary>
public partial class QuotaServiceTests
{
    /// <summary>
    /// The reservation reaches the server and waits there for a row another transaction holds; the proxy then stops
    /// passing bytes on that connection, the row is let go, and the server commits the reservation, whose reply never
    /// arrives. The caller gives up (cancels) and repeats: with the id it gets the same reservation, counted once.
    /// </summary>
    [Fact]
    public async Task A_reservation_whose_reply_was_lost_after_it_committed_is_counted_once_when_repeated_with_its_id()
    {
        var direct = new NpgsqlConnectionStringBuilder(database.ConnectionString);
        await using var proxy = new FaultyTcpProxy(direct.Host!, direct.Port, FaultyTcpProxy.ProxyMode.Forward);
        var viaProxy = new NpgsqlConnectionStringBuilder(database.ConnectionString) { Port = proxy.Port, CancellationTimeout = -1 };
        await using var sp = Build(postgres: viaProxy.ToString());
        var quotas = sp.GetRequiredService<IQuotaService>();
        var tenant = $"q-lost-reply-{Guid.NewGuid():N}";
        using var _ = Enter(sp, tenant);
        await quotas.ReserveAsync("documents", 1, default); // another reservation: the usage row exists

        await using var holder = await database.DataSource.OpenConnectionAsync();
        await using var hold = await holder.BeginTransactionAsync();
        await using (var lockRow = new NpgsqlCommand(
            "SELECT used FROM scaleops.quota_usage WHERE tenant_id = $1 AND resource = 'documents' FOR UPDATE", holder, hold))
        {
            lockRow.Parameters.Add(new NpgsqlParameter<string> { TypedValue = tenant });
            Assert.Equal(1L, await lockRow.ExecuteScalarAsync());
        }

        var id = Guid.NewGuid();
        using var giveUp = new CancellationTokenSource();
        var first = quotas.ReserveOnceAsync("documents", 3, id, giveUp.Token);
        await TestSignal.UntilAsync(
            async () => first.IsCompleted || await WaitingOnALockAsync(database.DataSource), "the reservation to wait on the server for the held row");
        Assert.False(first.IsCompleted, "the reservation did not wait for the held row");
        proxy.StallExisting(); // from here on, nothing the server sends on that connection reaches the caller
        await hold.CommitAsync();
        await TestSignal.UntilAsync(async () => await UsedAsync(tenant) == 4, "the server to commit the reservation");
        await giveUp.CancelAsync(); // the caller stops waiting for the reply it will never get
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => first);

        var retried = await quotas.ReserveOnceAsync("documents", 3, id, default); // on a new connection
        Assert.Equal((4, id, 3L), (retried.Used, retried.Reservation!.Id, retried.Reservation.Amount));
        Assert.Equal(4, await UsedAsync(tenant));
        var released = await quotas.ReleaseOnceAsync(retried.Reservation, default);
        Assert.Equal((3, 1), (released.Released, released.Used));
    }

    [Fact]
    public async Task Ids_of_periodic_reservations_are_deleted_after_the_next_month_and_those_of_standing_counts_are_kept()
    {
        await using var sp = Build();
        var quotas = sp.GetRequiredService<IQuotaService>();
        var run = $"q-once-retention-{Guid.NewGuid():N}";
        for (var i = 0; i < 12; i++)
        {
            using var _ = Enter(sp, $"{run}-{i}");
            await quotas.ReserveOnceAsync("jobs", 1, Guid.NewGuid(), default);      // Day: 2026-11-23
            await quotas.ReserveOnceAsync("documents", 1, Guid.NewGuid(), default); // standing
        }

        var december = Guid.NewGuid();
        _time.Advance(TimeSpan.FromDays(17)); // 2026-12-10
        using (Enter(sp, $"{run}-0"))
        {
            await quotas.ReserveOnceAsync("exports", 1, december, default);
        }

        _time.Advance(TimeSpan.FromDays(36)); // 2027-01-15: November ended before December, the previous month
        Assert.Equal(12, await IdRowsAsync(run, "period_start >= '2026-11-01' AND period_start < '2026-12-01'"));
        for (var i = 0; i < 20 && await IdRowsAsync(run, "period_start >= '2026-11-01' AND period_start < '2026-12-01'") > 0; i++)
        {
            using var _ = Enter(sp, $"{run}-driver-{i}");
            await quotas.ReserveOnceAsync("jobs", 1, Guid.NewGuid(), default);
        }

        Assert.Equal(0, await IdRowsAsync(run, "period_start >= '2026-11-01' AND period_start < '2026-12-01'"));
        Assert.Equal(1, await IdRowsAsync(run, "period_start = '2026-12-01'")); // the previous month stays
        Assert.Equal(12, await IdRowsAsync(run, "period_start = '1970-01-01'")); // standing counts stay
        using (Enter(sp, $"{run}-0"))
        {
            Assert.Equal(1, (await quotas.ReserveOnceAsync("exports", 1, december, default)).Used); // still a repeat
            Assert.Equal(0, (await quotas.GetUsageAsync("exports")).Used);
        }
    }

    private async Task<long> UsedAsync(string tenant)
    {
        await using var command = database.DataSource.CreateCommand(
            "SELECT coalesce(sum(used), 0)::bigint FROM scaleops.quota_usage WHERE tenant_id = $1 AND resource = 'documents'");
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = tenant });
        return (long)(await command.ExecuteScalarAsync())!;
    }

    private async Task<long> IdRowsAsync(string run, string where)
    {
        await using var command = database.DataSource.CreateCommand(
            $"SELECT count(*) FROM scaleops.quota_reservation WHERE tenant_id LIKE $1 || '-%' AND {where}");
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = run });
        return (long)(await command.ExecuteScalarAsync())!;
    }
}
