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
    /// <returns>The usage after the reservation.</returns>
    /// <exception cref="QuotaExceededException">The limit would be exceeded; nothing was reserved.</exception>
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
    /// <returns>The usage after the reservation (visible to others once the transaction commits).</returns>
    /// <exception cref="QuotaExceededException">The limit would be exceeded; nothing was reserved.</exception>
    Task<QuotaUsage> ReserveAsync(string resource, long amount, NpgsqlConnection connection, NpgsqlTransaction? transaction, CancellationToken cancellationToken = default);

    /// <summary>Releases <paramref name="amount"/> of <paramref name="resource"/> (usage never goes below zero).</summary>
    /// <param name="resource">A resource declared in <see cref="QuotaOptions.Resources"/>.</param>
    /// <param name="amount">At least 1.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>The usage after the release.</returns>
    Task<QuotaUsage> ReleaseAsync(string resource, long amount, CancellationToken cancellationToken);

    /// <summary>Releases <paramref name="amount"/> of <paramref name="resource"/> inside the caller's transaction.</summary>
    /// <param name="resource">A resource declared in <see cref="QuotaOptions.Resources"/>.</param>
    /// <param name="amount">At least 1.</param>
    /// <param name="connection">The caller's open connection.</param>
    /// <param name="transaction">The caller's transaction on <paramref name="connection"/>, or <see langword="null"/>.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>The usage after the release.</returns>
    Task<QuotaUsage> ReleaseAsync(string resource, long amount, NpgsqlConnection connection, NpgsqlTransaction? transaction, CancellationToken cancellationToken = default);

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
