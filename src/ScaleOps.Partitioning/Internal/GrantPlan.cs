using System;
using System.Collections.Generic;
using System.Threading;
using System.Threading.Tasks;
using Npgsql;
using ScaleOps.Data;

namespace ScaleOps.Partitioning.Internal;

/// <summary>
/// Carries a table's owner and grants (table and column, with grant option) to another relation. The grants are made by
/// the current role, as (a member of) the owner.
/// </summary>
internal static class GrantPlan
{
    private static readonly HashSet<string> TablePrivileges =
        new(StringComparer.Ordinal) { "SELECT", "INSERT", "UPDATE", "DELETE", "TRUNCATE", "REFERENCES", "TRIGGER" };

    /// <summary>One ACL entry: <paramref name="Column"/> null on the table, <paramref name="Grantee"/> null for PUBLIC.</summary>
    internal sealed record Grant(string? Column, string Privilege, string? Grantee, string Grantor, bool Grantable, bool Assumable)
    {
        public override string ToString() =>
            Privilege + (Column is null ? "" : $" ({SqlIdentifier.Quote(Column)})") + " to " + (Grantee is null ? "PUBLIC" : SqlIdentifier.Quote(Grantee))
            + (Grantable ? " with grant option" : "") + " granted by " + SqlIdentifier.Quote(Grantor);
    }

    /// <summary>What <c>AccessRead.sql</c> returned.</summary>
    internal sealed record Access(string Owner, string TargetOwner, bool OwnerGivable, string CurrentUser, IReadOnlyList<Grant> Grants);

    /// <summary>Reads the current result of an <c>AccessRead.sql</c> command.</summary>
    /// <exception cref="InvalidOperationException">A relation is missing, or a privilege is not a table privilege.</exception>
    public static async Task<Access> ReadAsync(NpgsqlDataReader reader, string target, CancellationToken cancellationToken)
    {
        Access? access = null;
        var grants = new List<Grant>();
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            access ??= new Access(reader.GetString(0), reader.GetString(1), reader.GetBoolean(2), reader.GetString(3), grants);
            if (reader.IsDBNull(5))
            {
                continue; // no grant at all
            }

            var privilege = reader.GetString(5);
            if (!TablePrivileges.Contains(privilege))
            {
                throw new InvalidOperationException($"The table whose grants {target} is to get grants {privilege}, which is not a table privilege known to ScaleOps.");
            }

            grants.Add(new Grant(reader.IsDBNull(4) ? null : reader.GetString(4), privilege, reader.IsDBNull(6) ? null : reader.GetString(6),
                reader.GetString(7), reader.GetBoolean(8), reader.GetBoolean(9)));
        }

        return access ?? throw new InvalidOperationException($"{target} or the table whose grants it is to get does not exist.");
    }

    /// <summary>
    /// Appends <c>ALTER TABLE ... OWNER TO</c> (when <paramref name="targetOwner"/> differs from the source's owner and the
    /// current role may give it) and then every grant. The owner goes first: changing it afterwards would turn a grant to
    /// the current role (the old owner) into one to the new owner.
    /// </summary>
    public static void Append(Access access, string qualifiedTarget, string targetOwner, List<string> statements)
    {
        if (!string.Equals(access.Owner, targetOwner, StringComparison.Ordinal) && access.OwnerGivable)
        {
            statements.Add($"ALTER TABLE {qualifiedTarget} OWNER TO {SqlIdentifier.Quote(access.Owner)}");
        }

        foreach (var grant in access.Grants)
        {
            statements.Add($"GRANT {grant.Privilege}{(grant.Column is null ? "" : $" ({SqlIdentifier.Quote(grant.Column)})")} ON {qualifiedTarget} TO "
                + (grant.Grantee is null ? "PUBLIC" : SqlIdentifier.Quote(grant.Grantee)) + (grant.Grantable ? " WITH GRANT OPTION" : ""));
        }
    }
}
