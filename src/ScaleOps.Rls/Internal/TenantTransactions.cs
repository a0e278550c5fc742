using System;
using System.Runtime.CompilerServices;
using Npgsql;
using ScaleOps.Tenancy;

namespace ScaleOps.Rls.Internal;

/// <summary>
/// The tenant each open tenant transaction belongs to, so a command that joins the transaction later (EF Core's
/// <c>UseTransaction</c>) under another ambient tenant is refused instead of re-setting the context inside it, which
/// would make the rest of the transaction, raw commands included, run as that other tenant.
/// </summary>
/// <remarks>
/// Npgsql reuses one <see cref="NpgsqlTransaction"/> object per pooled physical connection, so the object alone does
/// not identify a transaction: the owner is recorded with the <see cref="NpgsqlConnection"/> it was begun on (a new
/// object for every open from a data source), and an EF Core transaction begun later on the same object forgets it.
/// </remarks>
internal static class TenantTransactions
{
    private static readonly ConditionalWeakTable<NpgsqlTransaction, Owner> Owners = [];

    public static void Register(NpgsqlTransaction transaction, NpgsqlConnection connection, TenantId tenant) =>
        Owners.AddOrUpdate(transaction, new Owner(tenant.Value, new WeakReference<NpgsqlConnection>(connection)));

    /// <summary>Forgets the owner of <paramref name="transaction"/>: a new transaction (not a ScaleOps one) began on it.</summary>
    public static void Forget(NpgsqlTransaction transaction) => Owners.Remove(transaction);

    /// <summary>The tenant that began <paramref name="transaction"/> through ScaleOps, or null.</summary>
    public static string? OwnerOf(NpgsqlTransaction transaction)
    {
        if (!Owners.TryGetValue(transaction, out var owner))
        {
            return null;
        }

        NpgsqlConnection? current;
        try
        {
            current = transaction.Connection;
        }
        catch (ObjectDisposedException)
        {
            return null;
        }

        // The same pooled transaction object, reused by a later lease of the physical connection: not that tenant's.
        return current is not null && owner.Connection.TryGetTarget(out var begunOn) && ReferenceEquals(current, begunOn) ? owner.Tenant : null;
    }

    private sealed record Owner(string Tenant, WeakReference<NpgsqlConnection> Connection);
}
