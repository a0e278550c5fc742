using System;
using System.Collections.Generic;
using System.Linq;
using System.Runtime.CompilerServices;
using Npgsql;
using ScaleOps.Tenancy;

namespace ScaleOps.Rls.Internal;

/// <summary>
/// The context (tenant, user and roles) each open tenant transaction was begun with, recorded per connection, so a
/// command that runs on that connection later under another ambient context is refused instead of re-setting the context
/// inside the transaction, which would make the rest of it, raw commands included, run as the other tenant or user. The
/// connection is what counts, not the command's transaction: EF Core given the connection without <c>UseTransaction</c>
/// leaves the command's transaction null, and Npgsql runs it in the connection's open transaction all the same.
/// </summary>
/// <remarks>
/// Npgsql reuses one <see cref="NpgsqlTransaction"/> object per pooled physical connection, so the object alone does
/// not identify a transaction: the owner is recorded with the <see cref="NpgsqlConnection"/> it was begun on (a new
/// object for every open from a data source) and holds while that transaction object still belongs to that connection
/// and is not completed (Npgsql throws from <see cref="NpgsqlTransaction.IsolationLevel"/> once it is committed, rolled
/// back or disposed). An EF Core transaction begun later on the same connection forgets it.
/// </remarks>
internal static class TenantTransactions
{
    private static readonly ConditionalWeakTable<NpgsqlConnection, Owner> Owners = [];

    public static void Register(NpgsqlTransaction transaction, NpgsqlConnection connection, TenantId tenant, string? userId, IReadOnlyList<string> roles) =>
        Owners.AddOrUpdate(connection, new Owner(tenant.Value, userId, [.. roles], new WeakReference<NpgsqlTransaction>(transaction)));

    /// <summary>Forgets the owner of <paramref name="connection"/>: a new transaction (not a ScaleOps one) began on it.</summary>
    public static void Forget(NpgsqlConnection connection) => Owners.Remove(connection);

    /// <summary>The context of the ScaleOps tenant transaction open on <paramref name="connection"/>, or null.</summary>
    public static Owner? OwnerOn(NpgsqlConnection connection)
    {
        if (!Owners.TryGetValue(connection, out var owner) || !owner.Transaction.TryGetTarget(out var transaction))
        {
            return null;
        }

        NpgsqlConnection? current;
        try
        {
            // Both throw once the transaction is disposed; IsolationLevel also once it is committed or rolled back.
            current = transaction.Connection;
            _ = transaction.IsolationLevel;
        }
        catch (Exception ex) when (ex is ObjectDisposedException or InvalidOperationException)
        {
            return null; // completed (committed or rolled back) or disposed
        }

        // The same pooled transaction object, reused by a later lease of the physical connection: not that tenant's.
        return ReferenceEquals(current, connection) ? owner : null;
    }

    /// <summary>The context a tenant transaction was begun with.</summary>
    internal sealed record Owner(string Tenant, string? UserId, string[] Roles, WeakReference<NpgsqlTransaction> Transaction)
    {
        /// <summary>Whether the ambient context is this one: same tenant, same user, same roles in the same order.</summary>
        public bool Matches(TenantId? tenant, string? userId, IReadOnlyList<string> roles) =>
            string.Equals(Tenant, tenant?.Value, StringComparison.Ordinal)
            && string.Equals(UserId, userId, StringComparison.Ordinal)
            && Roles.SequenceEqual(roles, StringComparer.Ordinal);

        /// <summary>The context, for messages.</summary>
        public static string Describe(string? tenant, string? userId, IReadOnlyList<string> roles) =>
            $"tenant '{tenant ?? "(none)"}', user '{userId ?? "(none)"}', roles [{string.Join(", ", roles)}]";
    }
}
