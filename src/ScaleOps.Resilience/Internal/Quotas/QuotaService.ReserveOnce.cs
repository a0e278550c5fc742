using System;
using System.Collections.Generic;
using System.Data.Common;
using System.Globalization;
using System.Threading;
using System.Threading.Tasks;
using Npgsql;
using NpgsqlTypes;
using ScaleOps.Resilience.Quotas;
using ScaleOps.Tenancy;

namespace ScaleOps.Resilience.Internal.Quotas;

/// <summary>
/// Reservations with an id the caller chose: made at most once however often they are repeated. <c>ReserveAsync</c>
/// (no id) does not come here and writes no id row.
/// </summary>
internal sealed partial class QuotaService
{
    /// <summary>How often a repeat looks for the reservation that took its id before giving up (see <see cref="ClaimAndReserveAsync"/>).</summary>
    private const int ReserveOnceAttempts = 3;

    public async Task<QuotaUsage> ReserveOnceAsync(string resource, long amount, Guid reservationId, CancellationToken cancellationToken)
    {
        var target = Prepare(resource, amount, reservationId); // checked before a connection is opened
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        return await ClaimAndReserveAsync(target, resource, amount, reservationId, connection, null, cancellationToken).ConfigureAwait(false);
    }

    public async Task<QuotaUsage> ReserveOnceAsync(
        string resource, long amount, Guid reservationId, NpgsqlConnection connection, NpgsqlTransaction? transaction,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(connection);
        var target = Prepare(resource, amount, reservationId);
        return await ClaimAndReserveAsync(target, resource, amount, reservationId, connection, transaction, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Claims the id and reserves in one batch of two statements (<c>QuotaReserveOnceClaim.sql</c>, then
    /// <c>QuotaReserveOnceCount.sql</c>), one round trip: without the caller's transaction the batch runs in an implicit
    /// transaction of its own, so the claim, the usage and the undo of a claim the limit refused commit together or not at
    /// all (a claim committed alone would make a repeat return a reservation that was never made), and a lost reply leaves
    /// no transaction open on the server. When the id was taken, reads the reservation that took it in a statement of its
    /// own (which sees a concurrent one that committed while the claim waited for it) and returns it, or refuses a repeat
    /// that differs. The id is found neither claimed nor taken only when its row was deleted in between (a Day or Month
    /// reservation past its release window, pruned): the claim is tried again.
    /// </summary>
    private async Task<QuotaUsage> ClaimAndReserveAsync(
        (TenantId Tenant, QuotaPeriod Period, DateTimeOffset Start) target, string resource, long amount, Guid reservationId,
        NpgsqlConnection connection, NpgsqlTransaction? transaction, CancellationToken cancellationToken)
    {
        var (tenant, period, start) = target;
        var limit = await LimitAsync(tenant, resource, cancellationToken).ConfigureAwait(false);
        for (var attempt = 1; ; attempt++)
        {
            var (claimed, released, used) = await ClaimAsync(
                connection, transaction, tenant, resource, start, amount, limit, reservationId, cancellationToken).ConfigureAwait(false);
            if (used is long usedAfter)
            {
                var periodStart = PeriodStart(period, start);
                return new QuotaUsage(resource, usedAfter, limit, period, periodStart)
                {
                    Reservation = new QuotaReservation(reservationId, tenant, resource, amount, periodStart),
                };
            }

            if (claimed)
            {
                // Claimed but refused by the limit: the claim was deleted again in the same transaction.
                throw await ExceededAsync(connection, transaction, tenant, resource, start, amount, limit, cancellationToken).ConfigureAwait(false);
            }

            if (await FindAsync(connection, transaction, reservationId, cancellationToken).ConfigureAwait(false) is { } taken)
            {
                return Repeat(taken, tenant, resource, amount, period, limit, reservationId);
            }

            if (released)
            {
                throw new InvalidOperationException(
                    $"The quota reservation {reservationId} was already given back by ReleaseOnceAsync before this reservation of {amount} of "
                    + $"'{resource}' was made, so it is not made now (no release could give it back any more); nothing was reserved. "
                    + "Reserve with a new id.");
            }

            if (attempt == ReserveOnceAttempts)
            {
                throw new InvalidOperationException(
                    $"The quota reservation id {reservationId} was taken, but its reservation could not be read {ReserveOnceAttempts} times "
                    + "in a row (its row was deleted each time, as an expired Day or Month reservation); nothing was reserved.");
            }
        }
    }

    private async Task<(bool Claimed, bool Released, long? Used)> ClaimAsync(
        NpgsqlConnection connection, NpgsqlTransaction? transaction, TenantId tenant, string resource, DateTimeOffset start, long amount,
        long? limit, Guid reservationId, CancellationToken cancellationToken)
    {
        var now = clock.GetUtcNow();
        var call = Guid.NewGuid();
        await using var batch = new NpgsqlBatch(connection, transaction)
        {
            BatchCommands = { BatchCommand(_sql.ReserveOnceClaim), BatchCommand(_sql.ReserveOnceCount) },
        };
        await using var reader = await batch.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        await reader.ReadAsync(cancellationToken).ConfigureAwait(false);
        var (claimed, released) = (reader.GetBoolean(0), reader.GetBoolean(1));
        await reader.NextResultAsync(cancellationToken).ConfigureAwait(false);
        long? used = await reader.ReadAsync(cancellationToken).ConfigureAwait(false) ? reader.GetInt64(0) : null;
        return (claimed, released, used);

        NpgsqlBatchCommand BatchCommand(string sql)
        {
            var command = new NpgsqlBatchCommand(sql);
            command.Parameters.Add(new NpgsqlParameter<string>("tenant", tenant.ToString()));
            command.Parameters.Add(new NpgsqlParameter<string>("resource", resource));
            command.Parameters.Add(new NpgsqlParameter<DateTimeOffset>("period_start", start));
            command.Parameters.Add(new NpgsqlParameter<long>("amount", amount));
            command.Parameters.Add(new NpgsqlParameter<DateTimeOffset>("now", now));
            command.Parameters.Add(new NpgsqlParameter("limit", NpgsqlDbType.Bigint) { Value = limit is { } l ? l : DBNull.Value });
            command.Parameters.Add(new NpgsqlParameter<Guid>("reservation", reservationId));
            command.Parameters.Add(new NpgsqlParameter<Guid>("attempt", call));
            return command;
        }
    }

    /// <summary>A repeat of a reservation made before: the same reservation, and its period's usage now; nothing reserved.</summary>
    private QuotaUsage Repeat(
        (TenantId Tenant, string Resource, long Amount, DateTimeOffset Start, long Used) taken, TenantId tenant, string resource, long amount,
        QuotaPeriod period, long? limit, Guid reservationId)
    {
        // The other tenant is not named: a tenant must not learn another's id from a guessed or copied reservation id.
        var conflict = taken.Tenant != tenant ? $"it was reserved for another tenant than '{tenant}' (the tenant differs)"
            : taken.Resource != resource ? $"it reserved '{taken.Resource}', this call asks for '{resource}' (the resource differs)"
            : taken.Amount != amount ? $"it reserved {taken.Amount} of '{resource}', this call asks for {amount} (the amount differs)"
            : null;
        if (conflict is not null)
        {
            throw new ArgumentException(
                $"The quota reservation id {reservationId} was already used, and this call is not a repeat of that reservation: {conflict}. "
                + "A repeat must ask for the same tenant, resource and amount; use a new id for a new reservation. Nothing was reserved.",
                nameof(reservationId));
        }

        var periodStart = PeriodStart(period, taken.Start);
        return new QuotaUsage(resource, taken.Used, limit, period, periodStart)
        {
            Reservation = new QuotaReservation(reservationId, tenant, resource, amount, periodStart),
        };
    }

    /// <summary>
    /// The refusal of a release (<c>ReleaseOnceAsync</c>) whose reservation differs from the one <c>ReserveOnceAsync</c>
    /// recorded with its id, read from the row <c>QuotaReleaseOnce.sql</c> returned for it: the mismatch ('tenant', with
    /// nothing else of the other tenant's record, or 'reservation'), then the recorded resource, amount and period start.
    /// </summary>
    private static ArgumentException Mismatch(DbDataReader reader, QuotaReservation reservation, DateTimeOffset start)
    {
        var conflicts = new List<string>();
        if (reader.GetString(2) == "tenant")
        {
            // The other tenant is not named: a tenant must not learn another's id from a guessed or copied reservation id.
            conflicts.Add($"it was reserved for another tenant than '{reservation.Tenant}' (the tenant differs)");
        }
        else
        {
            var (resource, amount, periodStart) = (reader.GetString(3), reader.GetInt64(4), reader.GetFieldValue<DateTimeOffset>(5));
            if (resource != reservation.Resource)
            {
                conflicts.Add($"it reserved '{resource}', this release gives back '{reservation.Resource}' (the resource differs)");
            }

            if (amount != reservation.Amount)
            {
                conflicts.Add($"it reserved {amount}, this release gives back {reservation.Amount} (the amount differs)");
            }

            if (periodStart != start)
            {
                conflicts.Add($"it was reserved in {Period(periodStart)}, this release gives back to {Period(start)} (the period differs)");
            }
        }

        return new ArgumentException(
            $"The quota reservation {reservation.Id} was made by ReserveOnceAsync, and this release is not that reservation: "
            + $"{string.Join("; ", conflicts)}. Pass the QuotaReservation that ReserveOnceAsync returned (QuotaUsage.Reservation), or its "
            + "values unchanged. Nothing was given back.",
            nameof(reservation));

        static string Period(DateTimeOffset start) => start == StandingPeriod
            ? "no period (a standing count)"
            : $"the period starting {start.UtcDateTime.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture)} (UTC)";
    }

    /// <summary>Checks the call (<see cref="Prepare(string, long)"/>) and the id.</summary>
    private (TenantId Tenant, QuotaPeriod Period, DateTimeOffset Start) Prepare(string resource, long amount, Guid reservationId) =>
        reservationId == Guid.Empty
            ? throw new ArgumentException(
                "The reservation id is empty: generate one (Guid.NewGuid() or Guid.CreateVersion7()) before the first call, keep it, and "
                + "pass the same id to every repeat of that reservation.", nameof(reservationId))
            : Prepare(resource, amount);

    private async Task<(TenantId Tenant, string Resource, long Amount, DateTimeOffset Start, long Used)?> FindAsync(
        NpgsqlConnection connection, NpgsqlTransaction? transaction, Guid reservationId, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand(_sql.ReservationFind, connection, transaction);
        command.Parameters.Add(new NpgsqlParameter<Guid>("reservation", reservationId));
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        return await reader.ReadAsync(cancellationToken).ConfigureAwait(false)
            ? (new TenantId(reader.GetString(0)), reader.GetString(1), reader.GetInt64(2), reader.GetFieldValue<DateTimeOffset>(3), reader.GetInt64(4))
            : null;
    }

    /// <summary>The refusal of a reservation over the limit, as the id-less <c>ReserveAsync</c> reports it.</summary>
    private async Task<QuotaExceededException> ExceededAsync(
        NpgsqlConnection connection, NpgsqlTransaction? transaction, TenantId tenant, string resource, DateTimeOffset start, long amount,
        long? limit, CancellationToken cancellationToken)
    {
        var effectiveLimit = limit ?? long.MaxValue;
        var usage = await ReadAsync(connection, transaction, tenant, resource, start, cancellationToken).ConfigureAwait(false);
        metrics.QuotaRejected(resource);
        Log.QuotaExceeded(logger, tenant.ToString(), resource, usage, amount, effectiveLimit);
        return new QuotaExceededException(resource, effectiveLimit, usage, amount);
    }
}
