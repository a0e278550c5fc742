using System;
using System.Threading.Tasks;
using Npgsql;

namespace ScaleOps.TestInfrastructure;

/// <summary>
/// An open transaction that read a table and holds its <c>ACCESS SHARE</c> lock until it ends, as a long report would:
/// DDL on the table (<c>ACCESS EXCLUSIVE</c>) waits for it.
/// </summary>
public sealed class TableLockHolder : IAsyncDisposable
{
    private readonly NpgsqlConnection _connection;
    private readonly NpgsqlTransaction _transaction;

    private TableLockHolder(NpgsqlConnection connection, NpgsqlTransaction transaction)
    {
        _connection = connection;
        _transaction = transaction;
    }

    /// <summary>Opens a transaction on <paramref name="dataSource"/> that reads <paramref name="table"/> and stays open.</summary>
    /// <param name="dataSource">Where the table is.</param>
    /// <param name="table">The table, as SQL (quoted and qualified as needed).</param>
    /// <returns>The holder; end it with <see cref="CommitAsync"/> or by disposing it.</returns>
    public static async Task<TableLockHolder> HoldAsync(NpgsqlDataSource dataSource, string table)
    {
        ArgumentNullException.ThrowIfNull(dataSource);
        var connection = await dataSource.OpenConnectionAsync();
        var transaction = await connection.BeginTransactionAsync();
        await using var read = new NpgsqlCommand($"SELECT count(*) FROM {table}", connection, transaction);
        await read.ExecuteScalarAsync();
        return new TableLockHolder(connection, transaction);
    }

    /// <summary>Ends the transaction (it was never disturbed), releasing the lock.</summary>
    /// <returns>A task.</returns>
    public Task CommitAsync() => _transaction.CommitAsync();

    /// <inheritdoc/>
    public async ValueTask DisposeAsync()
    {
        await _transaction.DisposeAsync();
        await _connection.DisposeAsync();
    }
}
