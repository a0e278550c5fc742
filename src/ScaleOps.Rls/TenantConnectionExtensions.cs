using System;
using Npgsql;
using NpgsqlTypes;
using ScaleOps.Data;

namespace ScaleOps.Rls;

/// <summary>
/// The "hybrid" pattern for hot paths: the query filters by tenant itself (so the planner sees a plain
/// <c>tenant_id = $1</c>, even under a membership-style policy) and the RLS policy stays as the second fence.
/// </summary>
public static class TenantConnectionExtensions
{
    /// <summary>
    /// Creates a batch (tenant context first) for a statement whose <c>$1</c> is the connection's tenant id; your own
    /// parameters are <c>$2</c>, <c>$3</c>... The tenant id is sent untyped, so PostgreSQL reads it as the column's type
    /// (uuid, bigint, text).
    /// </summary>
    /// <param name="connection">The tenant connection.</param>
    /// <param name="commandText">The statement, for example <c>SELECT ... FROM documents WHERE tenant_id = $1 AND id = $2</c>.</param>
    /// <param name="parameters">The values of <c>$2</c>, <c>$3</c>...</param>
    /// <returns>The batch; dispose it after use.</returns>
    public static NpgsqlBatch CreateTenantFilteredBatch(this TenantConnection connection, string commandText, params object?[] parameters)
    {
        ArgumentNullException.ThrowIfNull(connection);
        ArgumentException.ThrowIfNullOrWhiteSpace(commandText);
        ArgumentNullException.ThrowIfNull(parameters);
        if (!commandText.Contains("$1", StringComparison.Ordinal))
        {
            throw new ArgumentException("The statement must filter by tenant with $1 (for example WHERE tenant_id = $1).", nameof(commandText));
        }

        var batch = connection.CreateBatch();
        var command = new NpgsqlBatchCommand(commandText);
        command.Parameters.Add(new NpgsqlParameter { Value = connection.Tenant.Value, NpgsqlDbType = NpgsqlDbType.Unknown });
        foreach (var value in parameters)
        {
            command.Parameters.Add(new NpgsqlParameter { Value = value ?? DBNull.Value });
        }

        batch.BatchCommands.Add(command);
        return batch;
    }
}
