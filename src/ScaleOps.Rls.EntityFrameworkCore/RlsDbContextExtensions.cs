using System;
using System.Runtime.CompilerServices;
using System.Threading;
using Microsoft.EntityFrameworkCore;

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
    /// each one (a pooled context keeps the mode until then).
    /// </summary>
    /// <param name="context">A context configured with <see cref="RlsDbCommandInterceptor"/>.</param>
    /// <returns>The scope; dispose it to read from the primary again.</returns>
    public static IDisposable ReadFromReplicas(this DbContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        var state = ReplicaReads.Of(context);
        Interlocked.Increment(ref state.Scopes);
        return new Scope(state);
    }

    private sealed class Scope(ReplicaReads state) : IDisposable
    {
        private int _disposed;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _disposed, 1) == 0)
            {
                Interlocked.Decrement(ref state.Scopes);
            }
        }
    }
}

/// <summary>Per context: open <see cref="RlsDbContextExtensions.ReadFromReplicas"/> scopes, and <c>SaveChanges</c> calls in flight.</summary>
internal sealed class ReplicaReads
{
    private static readonly ConditionalWeakTable<DbContext, ReplicaReads> States = [];

    public int Scopes;
    public int Saves;

    public static ReplicaReads Of(DbContext context) => States.GetValue(context, static _ => new ReplicaReads());

    /// <summary><c>SaveChanges</c> starts (<paramref name="delta"/> 1) or ends (-1) on a context that has used replica reads.</summary>
    public static void Saving(DbContext? context, int delta)
    {
        if (context is not null && States.TryGetValue(context, out var state))
        {
            if (delta > 0)
            {
                Interlocked.Increment(ref state.Saves);
            }
            else if (Interlocked.Decrement(ref state.Saves) < 0)
            {
                Interlocked.Exchange(ref state.Saves, 0); // a save that began before the first scope
            }
        }
    }

    /// <summary>Whether a connection <paramref name="context"/> opens now is for replica reads.</summary>
    public static bool Wanted(DbContext? context) =>
        context is not null && States.TryGetValue(context, out var state) && Volatile.Read(ref state.Scopes) > 0 && Volatile.Read(ref state.Saves) == 0;
}
