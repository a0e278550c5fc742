using System.Runtime.CompilerServices;
using Npgsql;
using ScaleOps.Tenancy;

namespace ScaleOps.Rls.Internal;

/// <summary>
/// The tenant each open tenant transaction belongs to, so a command that joins the transaction later (EF Core's
/// <c>UseTransaction</c>) under another ambient tenant is refused instead of re-setting the context inside it, which
/// would make the rest of the transaction, raw commands included, run as that other tenant.
/// </summary>
internal static class TenantTransactions
{
    private static readonly ConditionalWeakTable<NpgsqlTransaction, string> Owners = [];

    public static void Register(NpgsqlTransaction transaction, TenantId tenant) => Owners.AddOrUpdate(transaction, tenant.Value);

    /// <summary>The tenant that began <paramref name="transaction"/> through ScaleOps, or null.</summary>
    public static string? OwnerOf(NpgsqlTransaction transaction) => Owners.TryGetValue(transaction, out var tenant) ? tenant : null;
}
