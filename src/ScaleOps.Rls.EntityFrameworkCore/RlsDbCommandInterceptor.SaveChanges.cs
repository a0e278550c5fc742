using System;
using System.Threading;
using System.Threading.Tasks;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Diagnostics;
using Npgsql;
using ScaleOps.Rls.Internal;

namespace ScaleOps.Rls.EntityFrameworkCore;

/// <summary>
/// <c>SaveChanges</c>: its batches are not prefixed with the context call. EF Core checks the rows each UPDATE and DELETE
/// of a batch affected by the statement's position in the command (Npgsql's per-statement counts), so a call in front
/// of them shifts every count by one: a tracked update or delete then failed as a concurrency conflict. Instead
/// SaveChanges always runs in a transaction, and the context is set in it by its own command right before each batch
/// (the first one travels with the lazy BEGIN). Not once per transaction: a savepoint rolled back, or another command
/// of the transaction under another tenant, would leave a context other than the one recorded.
/// </summary>
public sealed partial class RlsDbCommandInterceptor
{
    /// <inheritdoc />
    public InterceptionResult<int> SavingChanges(DbContextEventData eventData, InterceptionResult<int> result)
    {
        BeforeSave(eventData);
        return result;
    }

    /// <inheritdoc />
    public ValueTask<InterceptionResult<int>> SavingChangesAsync(
        DbContextEventData eventData, InterceptionResult<int> result, CancellationToken cancellationToken = default)
    {
        BeforeSave(eventData);
        return ValueTask.FromResult(result);
    }

    /// <inheritdoc />
    public int SavedChanges(SaveChangesCompletedEventData eventData, int result)
    {
        ReplicaReads.Saving(eventData?.Context, -1);
        return result;
    }

    /// <inheritdoc />
    public ValueTask<int> SavedChangesAsync(SaveChangesCompletedEventData eventData, int result, CancellationToken cancellationToken = default)
    {
        ReplicaReads.Saving(eventData?.Context, -1);
        return ValueTask.FromResult(result);
    }

    /// <inheritdoc />
    public void SaveChangesFailed(DbContextErrorEventData eventData) => ReplicaReads.Saving(eventData?.Context, -1);

    /// <inheritdoc />
    public Task SaveChangesFailedAsync(DbContextErrorEventData eventData, CancellationToken cancellationToken = default)
    {
        ReplicaReads.Saving(eventData?.Context, -1);
        return Task.CompletedTask;
    }

    /// <inheritdoc />
    public void SaveChangesCanceled(DbContextEventData eventData) => ReplicaReads.Saving(eventData?.Context, -1);

    /// <inheritdoc />
    public Task SaveChangesCanceledAsync(DbContextEventData eventData, CancellationToken cancellationToken = default)
    {
        ReplicaReads.Saving(eventData?.Context, -1);
        return Task.CompletedTask;
    }

    // SaveChanges in a transaction whenever EF Core would otherwise run a single batch without one (WhenNeeded, the
    // default). AutoTransactionBehavior.Never is left alone: its batches are refused in SetContextForSaveAsync.
    private static void BeforeSave(DbContextEventData? eventData)
    {
        if (eventData?.Context is { } context)
        {
            if (context.Database.AutoTransactionBehavior == AutoTransactionBehavior.WhenNeeded)
            {
                context.Database.AutoTransactionBehavior = AutoTransactionBehavior.Always;
            }

            ReplicaReads.Saving(context, 1);
        }
    }

    /// <summary>Sets the ambient context in the transaction of a SaveChanges batch, right before it.</summary>
    private async ValueTask SetContextForSaveAsync(NpgsqlCommand command, bool async, CancellationToken cancellationToken)
    {
        var connection = command.Connection ?? throw new InvalidOperationException("An EF Core SaveChanges command has no connection.");
        // In an ambient TransactionScope the connection is enlisted: its commands run in that transaction without naming it.
        var transaction = command.Transaction;
        if (transaction is null && System.Transactions.Transaction.Current is null)
        {
            throw new InvalidOperationException(
                "EF Core's SaveChanges runs a batch outside a transaction (AutoTransactionBehavior.Never): RlsDbCommandInterceptor sets "
                + "the tenant context in SaveChanges' transaction before its batches, because a context call inside a batch would shift "
                + "the row counts EF Core checks. Leave AutoTransactionBehavior at WhenNeeded or Always, or begin a transaction "
                + "(Database.BeginTransaction, a TransactionScope, or a ScaleOps tenant transaction with UseTransaction).");
        }

        TenantContextCommand.Check(_tenantContext.UserId, _tenantContext.Roles);
        await using var call = new NpgsqlCommand(_context.CommandText, connection, transaction);
        call.Parameters.Add(TenantContextCommand.Text(_tenantContext.Tenant?.Value));
        call.Parameters.Add(TenantContextCommand.Text(_tenantContext.UserId));
        call.Parameters.Add(TenantContextCommand.Roles(_tenantContext.Roles));
        if (async)
        {
            await call.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }
        else
        {
            call.ExecuteNonQuery();
        }
    }
}
