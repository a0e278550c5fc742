using System;
using System.Threading;
using System.Threading.Tasks;
using Npgsql;
using ScaleOps.Tenancy;

namespace ScaleOps.Data;

/// <summary>
/// A transaction for one tenant, from <see cref="ITenantDataSource.BeginTransactionAsync"/>. Hand
/// <see cref="Connection"/> and <see cref="Transaction"/> to Dapper, EF Core (<c>UseTransaction</c>) or ScaleOps.Jobs'
/// transactional enqueue: every command in it runs as the tenant. Disposing without <see cref="CommitAsync"/> rolls back.
/// </summary>
public sealed class TenantTransaction : IAsyncDisposable
{
    private bool _completed;

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
    public async Task CommitAsync(CancellationToken cancellationToken = default)
    {
        await Transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
        _completed = true;
    }

    /// <summary>Rolls back.</summary>
    /// <param name="cancellationToken">Cancels the rollback.</param>
    /// <returns>A task.</returns>
    public async Task RollbackAsync(CancellationToken cancellationToken = default)
    {
        await Transaction.RollbackAsync(cancellationToken).ConfigureAwait(false);
        _completed = true;
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        try
        {
            if (!_completed && Connection.State == System.Data.ConnectionState.Open)
            {
                _completed = true;
                await Transaction.RollbackAsync().ConfigureAwait(false);
            }
        }
        finally
        {
            await Transaction.DisposeAsync().ConfigureAwait(false);
            await Connection.DisposeAsync().ConfigureAwait(false);
        }
    }
}
