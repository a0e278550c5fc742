using System;
using System.Collections.Generic;
using System.Threading;
using System.Threading.Tasks;
using Npgsql;

namespace ScaleOps.Resilience.Quotas;

/// <summary>
/// Reserves and releases the ambient tenant's quota atomically in PostgreSQL: concurrent reservations never take usage
/// over the limit. Pass your own connection and transaction to reserve in the same transaction as the write it pays for.
/// </summary>
public interface IQuotaService
{
    /// <summary>Reserves <paramref name="amount"/> of <paramref name="resource"/> in its own statement (autocommit).</summary>
    /// <param name="resource">A resource declared in <see cref="QuotaOptions.Resources"/>.</param>
    /// <param name="amount">At least 1.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>The usage after the reservation, with the reservation made (<see cref="QuotaUsage.Reservation"/>).</returns>
    /// <exception cref="QuotaExceededException">
    /// The limit would be exceeded (for an unlimited resource: the usage would pass <see cref="long.MaxValue"/>, reported
    /// as the limit); nothing was reserved.
    /// </exception>
    Task<QuotaUsage> ReserveAsync(string resource, long amount, CancellationToken cancellationToken);

    /// <summary>
    /// Reserves <paramref name="amount"/> of <paramref name="resource"/> on the caller's connection, inside the caller's
    /// transaction: it commits or rolls back with the caller's write. The usage row stays locked until then.
    /// </summary>
    /// <param name="resource">A resource declared in <see cref="QuotaOptions.Resources"/>.</param>
    /// <param name="amount">At least 1.</param>
    /// <param name="connection">The caller's open connection.</param>
    /// <param name="transaction">The caller's transaction on <paramref name="connection"/>, or <see langword="null"/>.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>
    /// The usage after the reservation (visible to others once the transaction commits), with the reservation made
    /// (<see cref="QuotaUsage.Reservation"/>).
    /// </returns>
    /// <exception cref="QuotaExceededException">
    /// The limit would be exceeded (for an unlimited resource: the usage would pass <see cref="long.MaxValue"/>, reported
    /// as the limit); nothing was reserved.
    /// </exception>
    Task<QuotaUsage> ReserveAsync(string resource, long amount, NpgsqlConnection connection, NpgsqlTransaction? transaction, CancellationToken cancellationToken = default);

    /// <summary>
    /// Reserves <paramref name="amount"/> of <paramref name="resource"/> as the reservation <paramref name="reservationId"/>,
    /// an id you generate before the first call and pass again to every repeat (an idempotency key): the reservation is
    /// made at most once however often, or however concurrently, it is repeated. A repeat after a lost reply (a timeout, a
    /// connection dropped after the server committed) reserves nothing and returns the same <see cref="QuotaUsage.Reservation"/>,
    /// so it can still be given back with <see cref="ReleaseOnceAsync(QuotaReservation, CancellationToken)"/>; a repeat
    /// of a reservation already released reserves nothing either. Commits on its own, like
    /// <see cref="ReserveAsync(string, long, CancellationToken)"/>, in one round trip: either the reservation and the record
    /// of its id both commit, or neither. The id is remembered (a row in <c>quota_reservation</c>)
    /// as long as its reservation can be given back: for a <see cref="QuotaPeriod.Day"/> or <see cref="QuotaPeriod.Month"/>
    /// resource until the month after its period has ended, for a standing count for good.
    /// </summary>
    /// <param name="resource">A resource declared in <see cref="QuotaOptions.Resources"/>.</param>
    /// <param name="amount">At least 1.</param>
    /// <param name="reservationId">The reservation's id, not <see cref="Guid.Empty"/>: the same for every repeat, a new one for a new reservation.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>
    /// The usage after the reservation, with the reservation (<see cref="QuotaUsage.Reservation"/>, whose
    /// <see cref="QuotaReservation.Id"/> is <paramref name="reservationId"/>); for a repeat, the same reservation (its
    /// period is the one it was first made in) and the usage of that period now.
    /// </returns>
    /// <exception cref="QuotaExceededException">The limit would be exceeded; nothing was reserved, and the id is still free.</exception>
    /// <exception cref="ArgumentException">
    /// <paramref name="reservationId"/> is empty, or was already used for a reservation of another tenant, resource or
    /// amount (the message names which); nothing was reserved.
    /// </exception>
    /// <exception cref="InvalidOperationException">
    /// <see cref="ReleaseOnceAsync(QuotaReservation, CancellationToken)"/> already gave the reservation back before it
    /// was ever made; nothing was reserved.
    /// </exception>
    Task<QuotaUsage> ReserveOnceAsync(string resource, long amount, Guid reservationId, CancellationToken cancellationToken);

    /// <summary>
    /// Reserves <paramref name="amount"/> of <paramref name="resource"/> as the reservation <paramref name="reservationId"/>
    /// at most once, inside the caller's transaction: the reservation and the record of its id commit or roll back with
    /// it, so after a rollback the same id reserves again; a concurrent repeat waits for that transaction. See
    /// <see cref="ReserveOnceAsync(string, long, Guid, CancellationToken)"/>.
    /// </summary>
    /// <param name="resource">A resource declared in <see cref="QuotaOptions.Resources"/>.</param>
    /// <param name="amount">At least 1.</param>
    /// <param name="reservationId">The reservation's id, not <see cref="Guid.Empty"/>: the same for every repeat.</param>
    /// <param name="connection">The caller's open connection.</param>
    /// <param name="transaction">
    /// The caller's transaction on <paramref name="connection"/>, or <see langword="null"/> to commit on its own.
    /// </param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>As <see cref="ReserveOnceAsync(string, long, Guid, CancellationToken)"/>, visible to others once the transaction commits.</returns>
    /// <exception cref="QuotaExceededException">The limit would be exceeded; nothing was reserved, and the id is still free.</exception>
    /// <exception cref="ArgumentException">As <see cref="ReserveOnceAsync(string, long, Guid, CancellationToken)"/>.</exception>
    /// <exception cref="InvalidOperationException">As <see cref="ReserveOnceAsync(string, long, Guid, CancellationToken)"/>.</exception>
    Task<QuotaUsage> ReserveOnceAsync(
        string resource, long amount, Guid reservationId, NpgsqlConnection connection, NpgsqlTransaction? transaction, CancellationToken cancellationToken = default);

    /// <summary>
    /// Releases <paramref name="amount"/> of <paramref name="resource"/> from the <em>current</em> period (usage never goes
    /// below zero). For a standing count (<see cref="QuotaPeriod.None"/>) that is the only period. For a
    /// <see cref="QuotaPeriod.Day"/> or <see cref="QuotaPeriod.Month"/> resource it frees the period the release runs
    /// in, which is right only for a reservation made in that same period: to give back a reservation made before a
    /// period boundary, use <see cref="ReleaseReservationAsync(string, long, DateTimeOffset?, CancellationToken)"/> with the
    /// reservation's <see cref="QuotaUsage.PeriodStart"/>, or the new period would be freed instead. A counter: every call
    /// gives back again, so a retried call gives back twice; <see cref="ReleaseOnceAsync(QuotaReservation, CancellationToken)"/>
    /// gives a reservation back once. Never asks the limit source.
    /// </summary>
    /// <param name="resource">A resource declared in <see cref="QuotaOptions.Resources"/>.</param>
    /// <param name="amount">At least 1.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>The usage of the current period after the release, and the amount given back (a release never asks the limit).</returns>
    Task<QuotaRelease> ReleaseAsync(string resource, long amount, CancellationToken cancellationToken);

    /// <summary>
    /// Releases <paramref name="amount"/> of <paramref name="resource"/> from the current period inside the caller's
    /// transaction; see <see cref="ReleaseAsync(string, long, CancellationToken)"/> for what "current" means, and
    /// <see cref="ReleaseReservationAsync(string, long, DateTimeOffset?, NpgsqlConnection, NpgsqlTransaction?, CancellationToken)"/>
    /// to release a reservation of an earlier period.
    /// </summary>
    /// <param name="resource">A resource declared in <see cref="QuotaOptions.Resources"/>.</param>
    /// <param name="amount">At least 1.</param>
    /// <param name="connection">The caller's open connection.</param>
    /// <param name="transaction">The caller's transaction on <paramref name="connection"/>, or <see langword="null"/>.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>The usage of the current period after the release, and the amount given back (a release never asks the limit).</returns>
    Task<QuotaRelease> ReleaseAsync(string resource, long amount, NpgsqlConnection connection, NpgsqlTransaction? transaction, CancellationToken cancellationToken = default);

    /// <summary>
    /// Releases <paramref name="amount"/> of <paramref name="resource"/> from the period of the reservation being given
    /// back (usage never goes below zero), whenever the release runs: a monthly reservation made on January 31 and
    /// released in February frees January, not February. A counter like <see cref="ReleaseAsync(string, long, CancellationToken)"/>:
    /// to give a reservation back once however often it is called, use <see cref="ReleaseOnceAsync(QuotaReservation, CancellationToken)"/>.
    /// </summary>
    /// <param name="resource">A resource declared in <see cref="QuotaOptions.Resources"/>.</param>
    /// <param name="amount">At least 1.</param>
    /// <param name="periodStart">
    /// The <see cref="QuotaUsage.PeriodStart"/> that <c>ReserveAsync</c> returned for the reservation: a UTC day or month
    /// start for a <see cref="QuotaPeriod.Day"/> or <see cref="QuotaPeriod.Month"/> resource, <see langword="null"/> for
    /// a <see cref="QuotaPeriod.None"/> resource.
    /// </param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>The usage of that period after the release, and the amount given back (a release never asks the limit).</returns>
    /// <exception cref="System.ArgumentException"><paramref name="periodStart"/> is not a period start of the resource.</exception>
    Task<QuotaRelease> ReleaseReservationAsync(string resource, long amount, DateTimeOffset? periodStart, CancellationToken cancellationToken);

    /// <summary>
    /// Releases <paramref name="amount"/> of <paramref name="resource"/> from the period of the reservation being given
    /// back, inside the caller's transaction; see <see cref="ReleaseReservationAsync(string, long, DateTimeOffset?, CancellationToken)"/>.
    /// </summary>
    /// <param name="resource">A resource declared in <see cref="QuotaOptions.Resources"/>.</param>
    /// <param name="amount">At least 1.</param>
    /// <param name="periodStart">The <see cref="QuotaUsage.PeriodStart"/> that <c>ReserveAsync</c> returned for the reservation.</param>
    /// <param name="connection">The caller's open connection.</param>
    /// <param name="transaction">The caller's transaction on <paramref name="connection"/>, or <see langword="null"/>.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>The usage of that period after the release, and the amount given back (a release never asks the limit).</returns>
    /// <exception cref="System.ArgumentException"><paramref name="periodStart"/> is not a period start of the resource.</exception>
    Task<QuotaRelease> ReleaseReservationAsync(
        string resource, long amount, DateTimeOffset? periodStart, NpgsqlConnection connection, NpgsqlTransaction? transaction, CancellationToken cancellationToken = default);

    /// <summary>
    /// Gives back <paramref name="reservation"/> (<see cref="QuotaUsage.Reservation"/>, from the period it was made in)
    /// once: a second release of it, concurrent or later (a retry after a lost reply, a duplicate message), gives nothing
    /// back and reports <see cref="QuotaRelease.Released"/> 0. Release only a reservation that was committed: one whose
    /// transaction rolled back reserved nothing, yet would be given back. Unlike the amount-based releases, which are
    /// counters (two calls give back twice), this one is safe to repeat. A reservation made by
    /// <see cref="ReserveOnceAsync(string, long, Guid, CancellationToken)"/> is checked against the one recorded with its id,
    /// in the same statement: one rebuilt with another amount, resource or period is refused. One made by <c>ReserveAsync</c>
    /// has no record: its values are given back as passed. Never asks the limit source.
    /// </summary>
    /// <param name="reservation">The reservation, made for the ambient tenant.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>The usage of the reservation's period after the release, and the amount this call gave back.</returns>
    /// <exception cref="System.ArgumentException">
    /// The reservation is not one <c>ReserveAsync</c> could have returned (empty id, undeclared resource, amount below 1, a
    /// period start that is not one of the resource) or was made for another tenant than the ambient one; or its id was
    /// reserved by <see cref="ReserveOnceAsync(string, long, Guid, CancellationToken)"/> (and is still recorded) for another
    /// tenant, resource, amount or period (the message names which, not the other tenant). Nothing was given back.
    /// </exception>
    Task<QuotaRelease> ReleaseOnceAsync(QuotaReservation reservation, CancellationToken cancellationToken);

    /// <summary>
    /// Gives back <paramref name="reservation"/> once, inside the caller's transaction: the release (and the record that
    /// makes a second one give nothing back) commits or rolls back with it; a concurrent release of the same reservation
    /// waits for that transaction. See <see cref="ReleaseOnceAsync(QuotaReservation, CancellationToken)"/>.
    /// </summary>
    /// <param name="reservation">The reservation, made for the ambient tenant.</param>
    /// <param name="connection">The caller's open connection.</param>
    /// <param name="transaction">The caller's transaction on <paramref name="connection"/>, or <see langword="null"/>.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>The usage of the reservation's period after the release, and the amount this call gave back.</returns>
    /// <exception cref="System.ArgumentException">As <see cref="ReleaseOnceAsync(QuotaReservation, CancellationToken)"/>.</exception>
    Task<QuotaRelease> ReleaseOnceAsync(QuotaReservation reservation, NpgsqlConnection connection, NpgsqlTransaction? transaction, CancellationToken cancellationToken = default);

    /// <summary>The ambient tenant's usage of <paramref name="resource"/> in the current period.</summary>
    /// <param name="resource">A resource declared in <see cref="QuotaOptions.Resources"/>.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>The usage and limit.</returns>
    Task<QuotaUsage> GetUsageAsync(string resource, CancellationToken cancellationToken = default);

    /// <summary>The ambient tenant's usage of every declared resource, ordered by name.</summary>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>The usages.</returns>
    Task<IReadOnlyList<QuotaUsage>> GetUsagesAsync(CancellationToken cancellationToken = default);
}
