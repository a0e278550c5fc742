using System;
using System.Collections.Generic;
using System.Threading;
using System.Threading.Tasks;
using Npgsql;

namespace ScaleOps.Rls.Internal;

/// <summary>The catalog state of one declared table.</summary>
internal sealed record TableState(
    string Name, bool RowSecurity, bool ForceRowSecurity, int PolicyCount, string? TenantType, string? UserType, bool TenantCaseInsensitive,
    bool HasTenantIndex, string? ForeignPermissivePolicies = null)
{
    /// <summary>Why the tenant column cannot isolate tenants, or null.</summary>
    public string? TenantColumnProblem(RlsTable table) => TenantCaseInsensitive
        ? $"table {Name}'s tenant column {table.TenantColumn} compares case-insensitively (citext or a nondeterministic collation): "
            + "tenant 'ACME' would read and write the rows of 'acme', which TenantId treats as another tenant. Use text (or uuid, bigint) "
            + "with a deterministic collation."
        : null;

    public void ThrowIfColumnsMissing(RlsTable table)
    {
        if (TenantColumnProblem(table) is { } problem)
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

/// <summary>One partition below a declared table: its schema and name, and its own row security state.</summary>
internal sealed record PartitionState(string Schema, string Name, bool RowSecurity, bool ForceRowSecurity, int PolicyCount)
{
    public string Qualified => ScaleOps.Data.SqlIdentifier.Qualify(Schema, Name);
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
            reader.IsDBNull(8) ? null : reader.GetString(8));
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
            partitions.Add(new PartitionState(reader.GetString(0), reader.GetString(1), reader.GetBoolean(2), reader.GetBoolean(3), reader.GetInt32(4)));
        }

        return partitions;
    }
}
