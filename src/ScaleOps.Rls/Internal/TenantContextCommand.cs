using System;
using System.Collections.Generic;
using Npgsql;
using NpgsqlTypes;
using ScaleOps.Data;
using ScaleOps.Tenancy;

namespace ScaleOps.Rls.Internal;

/// <summary>
/// Builds the <c>CALL schema.rls_set_context($1, $2, $3)</c> statement that starts every tenant batch. The values are
/// parameters, so any tenant id (quotes, SQL, unicode) is only ever data.
/// </summary>
internal sealed class TenantContextCommand(string schema)
{
    public string CommandText { get; } = $"CALL {SqlIdentifier.Quote(schema)}.rls_set_context($1, $2, $3)";

    public string NamedCommandText { get; } =
        $"CALL {SqlIdentifier.Quote(schema)}.rls_set_context(@__scaleops_tenant, @__scaleops_user, @__scaleops_roles);";

    public NpgsqlBatchCommand Create(TenantId? tenant, string? userId, IReadOnlyList<string> roles)
    {
        var command = new NpgsqlBatchCommand(CommandText);
        command.Parameters.Add(Text(tenant?.Value));
        command.Parameters.Add(Text(userId));
        command.Parameters.Add(Roles(roles));
        return command;
    }

    public static NpgsqlParameter Text(string? value, string name = "") =>
        new(name, NpgsqlDbType.Text) { Value = (object?)value ?? DBNull.Value };

    public static NpgsqlParameter Roles(IReadOnlyList<string> roles, string name = "") =>
        new(name, NpgsqlDbType.Array | NpgsqlDbType.Text) { Value = roles.Count == 0 ? DBNull.Value : roles };
}
