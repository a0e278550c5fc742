using System;
using System.Collections.Generic;
using System.Threading;
using System.Threading.Tasks;
using Npgsql;
using ScaleOps.Rls.Internal;

namespace ScaleOps.Rls.Safety;

/// <summary>
/// Scans a schema for tenant data that row-level security does not protect: every table with a tenant column but no
/// (enabled, forced) policy, and every view that would bypass the policies of the tables it reads.
/// </summary>
public static class RlsSchemaAuditor
{
    /// <summary>Audits <paramref name="schema"/> through <paramref name="dataSource"/>.</summary>
    /// <param name="dataSource">Any data source that can read the catalog (the shared one, for example).</param>
    /// <param name="schema">The schema.</param>
    /// <param name="tenantColumn">The column name that marks tenant data.</param>
    /// <param name="cancellationToken">Cancels the scan.</param>
    /// <returns>The findings.</returns>
    public static async Task<RlsAuditReport> AuditAsync(
        NpgsqlDataSource dataSource, string schema, string tenantColumn = "tenant_id", CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(dataSource);
        ArgumentException.ThrowIfNullOrWhiteSpace(schema);
        ArgumentException.ThrowIfNullOrWhiteSpace(tenantColumn);
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);

        var tables = new List<string>();
        foreach (var table in await UnprotectedTablesAsync(connection, schema, tenantColumn, cancellationToken).ConfigureAwait(false))
        {
            tables.Add($"{table.Name}: {table.Reason}");
        }

        var rlsTables = new List<string>();
        await using (var command = new NpgsqlCommand(RlsSql.RlsTablesInSchema, connection))
        {
            command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = schema });
            await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                rlsTables.Add(reader.GetString(0));
            }
        }

        var views = await LeakingViewsAsync(connection, rlsTables, cancellationToken).ConfigureAwait(false);
        return new RlsAuditReport(tables, views);
    }

    /// <summary>
    /// The tables (and partitions) of <paramref name="schema"/> with a column <paramref name="tenantColumn"/> that row-level
    /// security does not protect, each with the reason, whether it is a partition and whether the connected role may read or
    /// write it.
    /// </summary>
    internal static async Task<List<(string Name, string Reason, bool IsPartition, bool Reachable)>> UnprotectedTablesAsync(
        NpgsqlConnection connection, string schema, string tenantColumn, CancellationToken cancellationToken)
    {
        var tables = new List<(string, string, bool, bool)>();
        await using var command = new NpgsqlCommand(RlsSql.AuditTables, connection);
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = schema });
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = tenantColumn });
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            var reason = !reader.GetBoolean(1) ? "row level security is disabled"
                : !reader.GetBoolean(2) ? "row level security is not forced (the owner bypasses it)"
                : "it has no policy";
            tables.Add((reader.GetString(0), reason, reader.GetBoolean(4), reader.GetBoolean(5)));
        }

        return tables;
    }

    internal static async Task<List<string>> LeakingViewsAsync(NpgsqlConnection connection, IReadOnlyList<string> tables, CancellationToken cancellationToken)
    {
        var views = new List<string>();
        if (tables.Count == 0)
        {
            return views;
        }

        await using var command = new NpgsqlCommand(RlsSql.LeakingViews, connection);
        command.Parameters.Add(new NpgsqlParameter<string[]> { TypedValue = [.. tables] });
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            views.Add(reader.GetBoolean(2)
                ? $"materialized view {reader.GetString(0)} stores rows of {reader.GetString(1)} for every tenant; drop it or keep it out of tenant reach"
                : $"view {reader.GetString(0)} reads {reader.GetString(1)} with its owner's rights; recreate it WITH (security_invoker = true)");
        }

        return views;
    }
}
