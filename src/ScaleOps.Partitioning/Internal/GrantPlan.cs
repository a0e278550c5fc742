using System;
using System.Collections.Generic;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using Npgsql;
using ScaleOps.Data;

namespace ScaleOps.Partitioning.Internal;

/// <summary>
/// Carries a table's owner and grants (table and column, with grant option) to another relation, each grant made by its
/// original grantor. A grant made by a role holding the grant option (not the owner) and carried as the owner's, which
/// is what a plain GRANT by the migrating role records, was out of that role's reach: its REVOKE found nothing of its own
/// and removed nothing, so the grantee kept the access. PostgreSQL 15's <c>GRANTED BY</c> accepts only the current user,
/// so such a grant is made after <c>SET LOCAL ROLE</c> to its grantor (the session user must be a member of it), and the
/// role is set back right after.
/// </summary>
internal static class GrantPlan
{
    private static readonly HashSet<string> TablePrivileges =
        new(StringComparer.Ordinal) { "SELECT", "INSERT", "UPDATE", "DELETE", "TRUNCATE", "REFERENCES", "TRIGGER" };

    /// <summary>Whether <paramref name="privilege"/> (as <c>aclexplode</c> names it) is one a table can be granted.</summary>
    public static bool IsTablePrivilege(string privilege) => TablePrivileges.Contains(privilege);

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
    /// current role may give it) and then every grant, each after the grants that give its grantor the grant option.
    /// The owner goes first: changing it afterwards would turn a grant to the current role (the old owner) into one to
    /// the new owner. The owner's grants come before the others, and those to the current role last among them: a role
    /// that acts through its membership in the owner records its grant as the owner's only while it holds no grant
    /// option of its own on the table. Returns the grants left out: those the current role cannot make as their
    /// grantor, and those that depend on one left out.
    /// </summary>
    public static List<Grant> Append(Access access, string qualifiedTarget, string targetOwner, List<string> statements)
    {
        if (!string.Equals(access.Owner, targetOwner, StringComparison.Ordinal) && access.OwnerGivable)
        {
            statements.Add($"ALTER TABLE {qualifiedTarget} OWNER TO {SqlIdentifier.Quote(access.Owner)}");
        }

        var pending = access.Grants
            .OrderBy(g => g.Grantor == access.Owner ? (g.Grantee == access.CurrentUser ? 1 : 0) : 2)
            .ToList();
        var made = new List<Grant>();
        for (var progress = true; progress && pending.Count > 0;)
        {
            progress = false;
            foreach (var grant in pending.ToList())
            {
                if (!grant.Assumable || !(grant.Grantor == access.Owner || made.Any(m => Gives(m, grant))))
                {
                    continue;
                }

                var sql = GrantSql(grant, qualifiedTarget);
                if (grant.Grantor == access.Owner)
                {
                    statements.Add(sql); // the current role is, or is a member of, the owner: recorded as the owner's
                }
                else
                {
                    statements.Add($"SET LOCAL ROLE {SqlIdentifier.Quote(grant.Grantor)}");
                    statements.Add(sql);
                    statements.Add($"SET LOCAL ROLE {SqlIdentifier.Quote(access.CurrentUser)}");
                }

                made.Add(grant);
                pending.Remove(grant);
                progress = true;
            }
        }

        return pending;
    }

    /// <summary><c>GRANT privilege [(column)] ON target TO grantee [WITH GRANT OPTION]</c>, made as whoever runs it.</summary>
    public static string GrantSql(Grant grant, string qualifiedTarget) =>
        $"GRANT {grant.Privilege}{Columns(grant)} ON {qualifiedTarget} TO {Grantee(grant)}" + (grant.Grantable ? " WITH GRANT OPTION" : "");

    /// <summary>
    /// <c>REVOKE [GRANT OPTION FOR] privilege [(column)] ON target FROM grantee</c>, RESTRICT: it fails while a grant made
    /// with the option being revoked depends on it (see <see cref="GrantSync"/> for why it is never CASCADE).
    /// </summary>
    public static string RevokeSql(Grant grant, string qualifiedTarget, bool optionOnly) =>
        $"REVOKE {(optionOnly ? "GRANT OPTION FOR " : "")}{grant.Privilege}{Columns(grant)} ON {qualifiedTarget} FROM {Grantee(grant)}";

    /// <summary>Whether <paramref name="made"/> gives the grantor of <paramref name="grant"/> the option to grant it.</summary>
    internal static bool Gives(Grant made, Grant grant) =>
        made.Grantable && made.Grantee == grant.Grantor && made.Privilege == grant.Privilege
        && (made.Column is null || (grant.Column is not null && made.Column == grant.Column));

    private static string Columns(Grant grant) => grant.Column is null ? "" : $" ({SqlIdentifier.Quote(grant.Column)})";

    private static string Grantee(Grant grant) => grant.Grantee is null ? "PUBLIC" : SqlIdentifier.Quote(grant.Grantee);
}
