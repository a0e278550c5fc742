using System;
using System.Runtime.CompilerServices;
using System.Threading;
using System.Threading.Tasks;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Infrastructure;
using ScaleOps.Data;

namespace ScaleOps.Rls.EntityFrameworkCore;

/// <summary>Read/write splitting for EF Core contexts that use <see cref="RlsDbCommandInterceptor"/>.</summary>
public static class RlsDbContextExtensions
{
    /// <summary>
    /// Until the returned scope is disposed, the connections this context opens for its reads go to a healthy read replica
    /// of the shared database (round-robin, lag-bounded, falling back to the primary: the same choice as
    /// <c>ITenantDataSource.OpenConnectionAsync(TenantDataAccess.ReadOnly)</c>), with the tenant context and its policies
    /// applied there as on the primary. <c>SaveChanges</c> still writes to the primary; a tenant placed on a shard stays on
    /// its shard. A connection that is already open (an explicit <c>OpenConnection</c>, a transaction) stays where it is,
    /// and a transaction begun inside the scope runs on the replica, where PostgreSQL refuses writes. Scopes nest; dispose
    /// each one. A pooled context returned to its pool ends the scopes of that lease: the next lease reads from the primary
    /// even if a scope was never disposed, and disposing such a stale scope later does not end the new lease's scopes.
    /// </summary>
    /// <param name="context">A context configured with <see cref="RlsDbCommandInterceptor"/>.</param>
    /// <returns>The scope; dispose it to read from the primary again.</returns>
    public static IDisposable ReadFromReplicas(this DbContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        var lease = context.ContextId.Lease;
        var state = ReplicaReads.Of(context, lease);
        lock (state)
        {
            state.Scopes++;
        }

        return new Scope(state, lease);
    }

    /// <summary>
    /// Runs this context's commands in a tenant transaction, with Dapper, Npgsql and ScaleOps.Jobs' transactional enqueue
    /// on the same transaction: hands EF Core the transaction's connection (the context does not own it) and then the
    /// transaction. <c>UseTransaction</c> alone, on a context whose connection comes from the data source, fails with "The
    /// specified transaction is not associated with the current connection". Call it before the context opens a connection
    /// of its own; the interceptor refuses a command of another tenant, user or roles on that connection while the
    /// transaction lasts.
    /// </summary>
    /// <param name="database">The context's <see cref="DbContext.Database"/>.</param>
    /// <param name="transaction">A transaction from <c>ITenantDataSource.BeginTransactionAsync</c>.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>A task.</returns>
    /// <exception cref="InvalidOperationException">The context has an open connection or a transaction of its own.</exception>
    public static async Task UseTenantTransactionAsync(this DatabaseFacade database, TenantTransaction transaction, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(database);
        ArgumentNullException.ThrowIfNull(transaction);
        if (database.CurrentTransaction is not null || database.GetDbConnection() is { State: not System.Data.ConnectionState.Closed } open
            && !ReferenceEquals(open, transaction.Connection))
        {
            throw new InvalidOperationException(
                "The context already has an open connection or a transaction of its own: call UseTenantTransactionAsync on a new context, "
                + "before its first command.");
        }

        database.SetDbConnection(transaction.Connection, contextOwnsConnection: false);
        await database.UseTransactionAsync(transaction.Transaction, cancellationToken).ConfigureAwait(false);
    }

    private sealed class Scope(ReplicaReads state, int lease) : IDisposable
    {
        private int _disposed;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _disposed, 1) == 0)
            {
                lock (state)
                {
                    if (state.Lease == lease && state.Scopes > 0)
                    {
                        state.Scopes--;
                    }
                }
            }
        }
    }
}

/// <summary>
/// Per context: open <see cref="RlsDbContextExtensions.ReadFromReplicas"/> scopes, and <c>SaveChanges</c> calls in flight,
/// for one lease of the context (<see cref="DbContextId.Lease"/>: a pooled context gets a new lease each time it leaves its
/// pool; an unpooled one keeps lease 0). Counts of an earlier lease are dropped when the context is next seen.
/// </summary>
internal sealed class ReplicaReads
{
    private static readonly ConditionalWeakTable<DbContext, ReplicaReads> States = [];

    public int Lease;
    public int Scopes;
    public int Saves;

    /// <summary>The state of <paramref name="context"/>'s current lease; call under no lock.</summary>
    public static ReplicaReads Of(DbContext context, int lease)
    {
        var state = States.GetValue(context, _ => new ReplicaReads { Lease = lease });
        lock (state)
        {
            if (state.Lease != lease)
            {
                (state.Lease, state.Scopes, state.Saves) = (lease, 0, 0);
            }
        }

        return state;
    }

    /// <summary><c>SaveChanges</c> starts (<paramref name="delta"/> 1) or ends (-1) on a context that has used replica reads.</summary>
    public static void Saving(DbContext? context, int delta)
    {
        if (context is not null && States.TryGetValue(context, out var state))
        {
            var lease = context.ContextId.Lease;
            lock (state)
            {
                if (state.Lease != lease)
                {
                    (state.Lease, state.Scopes, state.Saves) = (lease, 0, 0);
                }

                // Below zero: a save that began before the first scope of this lease.
                state.Saves = Math.Max(0, state.Saves + delta);
            }
        }
    }

    /// <summary>Whether a connection <paramref name="context"/> opens now is for replica reads.</summary>
    public static bool Wanted(DbContext? context)
    {
        if (context is null || !States.TryGetValue(context, out var state))
        {
            return false;
        }

        lock (state)
        {
            return state.Lease == context.ContextId.Lease && state.Scopes > 0 && state.Saves == 0;
        }
    }
}
