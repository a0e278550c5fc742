using System.Data;
using System.Threading;
using System.Threading.Tasks;
using ScaleOps.Tenancy;

namespace ScaleOps.Data;

/// <summary>
/// Opens database work for the ambient tenant (<see cref="ITenantContext"/>). ScaleOps.Core registers a plain
/// implementation over the shared <see cref="Npgsql.NpgsqlDataSource"/>; <c>AddRls</c> replaces it with one that
/// sends the tenant to PostgreSQL (row-level security settings, in the same round trip as the work) and routes to
/// read replicas and tenant shards. Code written against this interface gets those guarantees without referencing
/// ScaleOps.Rls.
/// </summary>
public interface ITenantDataSource
{
    /// <summary>
    /// Opens a connection for the ambient tenant. Run work through <see cref="TenantConnection.CreateBatch()"/>: each
    /// batch carries the tenant context in its own round trip.
    /// </summary>
    /// <param name="access">Whether the work may read from a replica.</param>
    /// <param name="cancellationToken">Cancels the open.</param>
    /// <returns>The open connection; dispose it to return it to the pool.</returns>
    /// <exception cref="TenantRequiredException">No tenant scope is active.</exception>
    ValueTask<TenantConnection> OpenConnectionAsync(
        TenantDataAccess access = TenantDataAccess.ReadWrite, CancellationToken cancellationToken = default);

    /// <summary>
    /// Begins a transaction for the ambient tenant on its primary. Every command on
    /// <see cref="TenantTransaction.Connection"/> within <see cref="TenantTransaction.Transaction"/> (raw Npgsql, Dapper,
    /// EF Core, ScaleOps.Jobs' transactional enqueue) runs as that tenant until commit or rollback.
    /// </summary>
    /// <param name="isolationLevel">The isolation level.</param>
    /// <param name="cancellationToken">Cancels the begin.</param>
    /// <returns>The transaction; disposing it without <see cref="TenantTransaction.CommitAsync"/> rolls back.</returns>
    /// <exception cref="TenantRequiredException">No tenant scope is active.</exception>
    ValueTask<TenantTransaction> BeginTransactionAsync(
        IsolationLevel isolationLevel = IsolationLevel.ReadCommitted, CancellationToken cancellationToken = default);
}
