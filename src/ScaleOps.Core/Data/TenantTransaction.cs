using System;
using System.Threading;
using System.Threading.Tasks;
using Npgsql;
using ScaleOps.Tenancy;

namespace ScaleOps.Data;

/// <summary>
/// A transaction for one tenant, from <see cref="ITenantDataSource.BeginTransactionAsync"/>. Hand
/// <see cref="Connection"/> and <see cref="Transaction"/> to Dapper, EF Core (<c>UseTenantTransactionAsync</c> of
/// ScaleOps.Rls.EntityFrameworkCore) or ScaleOps.Jobs' transactional enqueue: every command in it runs as the tenant.
/// Disposing without <see cref="CommitAsync"/> rolls back.
/// </summary>
public sealed class TenantTransaction : IAsyncDisposable
{
    /// <summary>Wraps an open connection and its begun transaction. Implementations of <see cref="ITenantDataSource"/> call this.</summary>
    /// <param name="connection">The open connection; this object owns it.</param>
    /// <param name="transaction">The transaction on <paramref name="connection"/>, with the tenant context already set.</param>
    /// <param name="tenant">The tenant.</param>
    public TenantTransaction(NpgsqlConnection connection, NpgsqlTransaction transaction, TenantId tenant)
    {
        ArgumentNullException.ThrowIfNull(connection);
        ArgumentNullException.ThrowIfNull(transaction);
        if (tenant.IsDefault)
        {
            throw new ArgumentException("default(TenantId) is not a tenant.", nameof(tenant));
        }

        Connection = connection;
        Transaction = transaction;
        Tenant = tenant;
    }

    /// <summary>The open connection.</summary>
    public NpgsqlConnection Connection { get; }

    /// <summary>The transaction; pass it with every command you run on <see cref="Connection"/>.</summary>
    public NpgsqlTransaction Transaction { get; }

    /// <summary>The tenant.</summary>
    public TenantId Tenant { get; }

    /// <summary>Creates a command in the transaction.</summary>
    /// <param name="commandText">The SQL.</param>
    /// <returns>The command; add parameters, execute, dispose.</returns>
    public NpgsqlCommand CreateCommand(string commandText)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(commandText);
        return new NpgsqlCommand(commandText, Connection, Transaction);
    }

    /// <summary>Creates a batch in the transaction.</summary>
    /// <returns>The batch.</returns>
    public NpgsqlBatch CreateBatch() => new(Connection, Transaction);

    /// <summary>Commits.</summary>
    /// <param name="cancellationToken">Cancels the commit.</param>
    /// <returns>A task.</returns>
    public Task CommitAsync(CancellationToken cancellationToken = default) => Transaction.CommitAsync(cancellationToken);

    /// <summary>Rolls back.</summary>
    /// <param name="cancellationToken">Cancels the rollback.</param>
    /// <returns>A task.</returns>
    public Task RollbackAsync(CancellationToken cancellationToken = default) => Transaction.RollbackAsync(cancellationToken);

    /// <summary>
    /// Rolls back unless the transaction has ended (committed, rolled back, or failed at its commit, through this object or
    /// through <see cref="Transaction"/> itself), then returns the connection to the pool.
    /// </summary>
    /// <returns>A task.</returns>
    /// <remarks>
    /// Npgsql's own dispose rolls back only a transaction that is still open. Rolling back an ended one throws
    /// ("This NpgsqlTransaction has completed"), which hid the error of a failed commit (a deferred constraint, a
    /// serialization failure) and failed the dispose after a commit made through <see cref="Transaction"/>.
    /// </remarks>
    public async ValueTask DisposeAsync()
    {
        try
        {
            await Transaction.DisposeAsync().ConfigureAwait(false);
        }
        finally
        {
            await Connection.DisposeAsync().ConfigureAwait(false);
        }
    }
}
