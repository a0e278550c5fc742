using System;
using System.Threading.Tasks;
using Npgsql;
using ScaleOps.Tenancy;

namespace ScaleOps.Data;

/// <summary>
/// An open connection for one tenant, from <see cref="ITenantDataSource.OpenConnectionAsync"/>. Work goes through
/// <see cref="CreateBatch()"/>: the batch starts with the tenant context (when the data source sets one), which returns no
/// result set, so a reader starts at the caller's first statement and the whole batch is one round trip and one
/// implicit transaction.
/// </summary>
public sealed class TenantConnection : IAsyncDisposable
{
    private readonly Func<NpgsqlBatchCommand>? _createContextCommand;

    /// <summary>Wraps an open connection. Implementations of <see cref="ITenantDataSource"/> call this.</summary>
    /// <param name="connection">The open connection; this object owns it.</param>
    /// <param name="tenant">The tenant the connection works for.</param>
    /// <param name="createContextCommand">
    /// Creates the first command of every batch, which sets the tenant context and returns no result set; null for none.
    /// </param>
    public TenantConnection(NpgsqlConnection connection, TenantId tenant, Func<NpgsqlBatchCommand>? createContextCommand = null)
    {
        ArgumentNullException.ThrowIfNull(connection);
        if (tenant.IsDefault)
        {
            throw new ArgumentException("default(TenantId) is not a tenant.", nameof(tenant));
        }

        Connection = connection;
        Tenant = tenant;
        _createContextCommand = createContextCommand;
    }

    /// <summary>The open connection. Commands sent on it directly, outside <see cref="CreateBatch()"/>, carry no tenant context.</summary>
    public NpgsqlConnection Connection { get; }

    /// <summary>The tenant.</summary>
    public TenantId Tenant { get; }

    /// <summary>
    /// Creates a batch on <see cref="Connection"/> that carries the tenant context. Add the work to
    /// <see cref="NpgsqlBatch.BatchCommands"/>; with row-level security the context command comes first and is hidden
    /// from readers (it returns no rows). The context command never has an error barrier after it, so it shares its
    /// implicit transaction with the statement after it even with <see cref="NpgsqlBatch.EnableErrorBarriers"/>; but with
    /// error barriers every later statement is a transaction of its own and runs without the context: use one batch per
    /// statement, or a tenant transaction, rather than error barriers.
    /// </summary>
    /// <returns>The batch; dispose it after use.</returns>
    public NpgsqlBatch CreateBatch()
    {
        var batch = Connection.CreateBatch();
        if (_createContextCommand is not null)
        {
            // Never an error barrier after the context: with NpgsqlBatch.EnableErrorBarriers each command would otherwise
            // be its own implicit transaction, the transaction-local context would end with the first one, and the
            // caller's first statement would run without the tenant.
            var context = _createContextCommand();
            context.AppendErrorBarrier = false;
            batch.BatchCommands.Add(context);
        }

        return batch;
    }

    /// <summary>Creates a batch holding one statement after the tenant context.</summary>
    /// <param name="commandText">The statement, with positional parameters (<c>$1</c>, <c>$2</c>...).</param>
    /// <param name="parameters">The values of <c>$1</c>, <c>$2</c>... in order.</param>
    /// <returns>The batch; dispose it after use.</returns>
    public NpgsqlBatch CreateBatch(string commandText, params object?[] parameters)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(commandText);
        ArgumentNullException.ThrowIfNull(parameters);
        var batch = CreateBatch();
        var command = new NpgsqlBatchCommand(commandText);
        foreach (var value in parameters)
        {
            command.Parameters.Add(new NpgsqlParameter { Value = value ?? DBNull.Value });
        }

        batch.BatchCommands.Add(command);
        return batch;
    }

    /// <inheritdoc />
    public ValueTask DisposeAsync() => Connection.DisposeAsync();
}
