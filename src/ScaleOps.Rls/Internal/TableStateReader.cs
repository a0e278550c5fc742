using System;
using System.Collections.Generic;
using System.Threading;
using System.Threading.Tasks;
using Npgsql;

namespace ScaleOps.Rls.Internal;

/// <summary>
/// The catalog state of one declared table; <see cref="Owned"/> and <see cref="CanTruncate"/> are what the connected role
/// may do to it beyond row security.
/// </summary>
internal sealed record TableState(
    string Name, bool RowSecurity, bool ForceRowSecurity, int PolicyCount, string? TenantType, string? UserType, bool TenantCaseInsensitive,
    bool UserCaseInsensitive, bool HasTenantIndex, string? ForeignPermissivePolicies = null, bool Owned = false, bool CanTruncate = false,
    string? UniqueWithoutTenant = null)
{
    /// <summary>
    /// Why the tenant or user column cannot isolate tenants or users, or null: it compares case-insensitively, or its type
    /// (a domain's base type) is not one the policy compares exactly (<see cref="PolicyDdl.SupportedColumnTypes"/>).
    /// </summary>
    public string? ColumnProblem(RlsTable table)
    {
        if (TenantCaseInsensitive)
        {
            return $"table {Name}'s tenant column {table.TenantColumn} compares case-insensitively (citext or a nondeterministic collation): "
                + "tenant 'ACME' would read and write the rows of 'acme', which TenantId treats as another tenant. Use text (or uuid, bigint) "
                + "with a deterministic collation.";
        }

        if (table.Kind == RlsTableKind.UserOwned && UserCaseInsensitive)
        {
            return $"table {Name}'s user column {table.UserColumn} compares case-insensitively (citext or a nondeterministic collation): "
                + "user 'ALICE' would read and write the rows of 'alice'. Use text (or uuid, bigint) with a deterministic collation.";
        }

        return TypeProblem(table.TenantColumn, TenantType, "tenant")
            ?? (table.Kind == RlsTableKind.UserOwned ? TypeProblem(table.UserColumn, UserType, "user") : null);
    }

    private string? TypeProblem(string? column, string? type, string kind) =>
        column is null || type is null || PolicyDdl.IsSupportedColumnType(type) ? null
            : $"table {Name}'s {kind} column {column} has type {type} (for a domain, its base type), which the policy cannot compare exactly "
                + $"with the {kind} id: a cast to it merges distinct ids (name truncates to 63 bytes, numeric reads '7.0' as 7, floating "
                + $"point rounds), so one {kind} would read and write another's rows. {char.ToUpperInvariant(PolicyDdl.SupportedColumnTypesText[0])}"
                + $"{PolicyDdl.SupportedColumnTypesText[1..]}.";

    public void ThrowIfColumnsMissing(RlsTable table)
    {
        if (ColumnProblem(table) is { } problem)
        {
            throw new InvalidOperationException("RLS " + problem);
        }

        if (table.TenantColumn is not null && TenantType is null)
        {
            throw new InvalidOperationException($"RLS table {Name} has no column {table.TenantColumn} (its declared TenantColumn).");
        }

        if (table.Kind == RlsTableKind.UserOwned && UserType is null)
        {
            throw new InvalidOperationException($"RLS table {Name} has no column {table.UserColumn} (its declared UserColumn).");
        }
    }
}

/// <summary>
/// One partition below a declared table: its schema and name, its own row security state, the permissive policies
/// ScaleOps does not manage on it (comma-separated, or null), and whether the connected role owns it or may TRUNCATE it.
/// </summary>
internal sealed record PartitionState(
    string Schema, string Name, bool RowSecurity, bool ForceRowSecurity, int PolicyCount, string? ForeignPermissivePolicies = null,
    bool Owned = false, bool CanTruncate = false)
{
    public string Qualified => ScaleOps.Data.SqlIdentifier.Qualify(Schema, Name);
}

/// <summary>
/// A <c>scaleops_*</c> policy as it is in the catalog: its comment (<c>scaleops:&lt;hash of the CREATE POLICY
/// statement&gt;:&lt;fingerprint at creation&gt;</c>) and the fingerprint of its current definition (command,
/// permissiveness, roles, deparsed USING and WITH CHECK).
/// </summary>
internal sealed record ExistingPolicy(string Name, string Comment, string Fingerprint)
{
    /// <summary>The comment ScaleOps gives <paramref name="desired"/> once created with <paramref name="fingerprint"/>.</summary>
    public static string CommentFor(DesiredPolicy desired, string fingerprint) => desired.Hash + ":" + fingerprint;

    /// <summary>Whether this is <paramref name="desired"/>, created by ScaleOps and not altered since.</summary>
    public bool IsUpToDate(DesiredPolicy desired) => string.Equals(Comment, CommentFor(desired, Fingerprint), StringComparison.Ordinal);

    /// <summary>
    /// Why this policy is not what ScaleOps creates for <paramref name="table"/> (<paramref name="desired"/>: the policies
    /// it declares there), or null when it is.
    /// </summary>
    public string? Problem(string table, IReadOnlyList<DesiredPolicy> desired)
    {
        DesiredPolicy? match = null;
        foreach (var policy in desired)
        {
            if (string.Equals(policy.Name, Name, StringComparison.Ordinal))
            {
                match = policy;
            }
        }

        if (match is null)
        {
            return $"table {table} has the policy {Name}, which ScaleOps does not declare for it (left from an earlier declaration, or "
                + "created by hand): a permissive policy widens what every tenant sees. Apply the policies (RlsPolicyManager), which drop it.";
        }

        if (!Comment.StartsWith(match.Hash + ":", StringComparison.Ordinal))
        {
            // The first release commented its policies with the statement's hash alone ('scaleops:<hex>', no fingerprint).
            var cause = Comment.StartsWith("scaleops:", StringComparison.Ordinal) && Comment.IndexOf(':', "scaleops:".Length) < 0
                ? "it was created by an earlier version of ScaleOps, which recorded no fingerprint of it"
                : "the declaration changed, or the policy was created by hand";
            return $"policy {Name} on table {table} is not the one ScaleOps declares ({cause}): apply the policies (RlsPolicyManager, or "
                + "ScaleOps:Rls:ApplyPoliciesOnStart) to recreate it.";
        }

        return IsUpToDate(match) ? null
            : $"policy {Name} on table {table} was altered after ScaleOps created it (its USING, WITH CHECK, command, roles or "
                + "permissiveness changed): apply the policies (RlsPolicyManager, or ScaleOps:Rls:ApplyPoliciesOnStart) to recreate it.";
    }
}

/// <summary>Reads <see cref="TableState"/> from the catalog.</summary>
internal static class TableStateReader
{
    public static async Task<TableState?> ReadAsync(
        NpgsqlConnection connection, NpgsqlTransaction? transaction, RlsTable table, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand(RlsSql.TableState, connection, transaction);
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = table.Schema });
        command.Parameters.Add(new NpgsqlParameter { Value = (object?)table.TenantColumn ?? DBNull.Value, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Text });
        command.Parameters.Insert(1, new NpgsqlParameter<string> { TypedValue = table.Name });
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = table.UserColumn });
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        if (!await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            return null;
        }

        return new TableState(
            reader.GetString(0), reader.GetBoolean(1), reader.GetBoolean(2), reader.GetInt32(3),
            reader.IsDBNull(4) ? null : reader.GetString(4), reader.IsDBNull(5) ? null : reader.GetString(5), reader.GetBoolean(6), reader.GetBoolean(7),
            reader.GetBoolean(8), reader.IsDBNull(9) ? null : reader.GetString(9), reader.GetBoolean(10), reader.GetBoolean(11),
            reader.IsDBNull(12) ? null : reader.GetString(12));
    }

    /// <summary>The <c>scaleops_*</c> policies on <paramref name="relation"/> (a regclass name), by name.</summary>
    public static async Task<Dictionary<string, ExistingPolicy>> ScaleOpsPoliciesAsync(
        NpgsqlConnection connection, NpgsqlTransaction? transaction, string relation, CancellationToken cancellationToken)
    {
        var policies = new Dictionary<string, ExistingPolicy>(StringComparer.Ordinal);
        await using var command = new NpgsqlCommand(RlsSql.ScaleOpsPolicies, connection, transaction);
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = relation });
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            policies[reader.GetString(0)] = new ExistingPolicy(reader.GetString(0), reader.GetString(1), reader.GetString(2));
        }

        return policies;
    }

    /// <summary>The partitions below <paramref name="table"/> (a regclass name), sub-partitions included; empty for a plain table.</summary>
    public static async Task<List<PartitionState>> PartitionsAsync(
        NpgsqlConnection connection, NpgsqlTransaction? transaction, string table, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand(RlsSql.Partitions, connection, transaction);
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = table });
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        var partitions = new List<PartitionState>();
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            partitions.Add(new PartitionState(
                reader.GetString(0), reader.GetString(1), reader.GetBoolean(2), reader.GetBoolean(3), reader.GetInt32(4),
                reader.IsDBNull(5) ? null : reader.GetString(5), reader.GetBoolean(6), reader.GetBoolean(7)));
        }

        return partitions;
    }

    /// <summary>The tables that inherit from <paramref name="table"/> (a regclass name) at any depth, partitions excluded.</summary>
    public static async Task<List<string>> InheritanceChildrenAsync(NpgsqlConnection connection, string table, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand(RlsSql.InheritanceChildren, connection);
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = table });
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        var children = new List<string>();
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            children.Add(reader.GetString(0));
        }

        return children;
    }
}
