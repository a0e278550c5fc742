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

    /// <summary>
    /// Refuses a user id or role PostgreSQL text cannot hold, naming it. The core's <c>BeginScope</c> checks the same, but a
    /// host's own <see cref="ITenantContext"/> does not go through it: a NUL failed at the first batch in PostgreSQL (22021
    /// "invalid byte sequence for encoding UTF8: 0x00") and an unpaired surrogate in Npgsql's encoder
    /// (EncoderFallbackException), neither naming the value nor where it came from.
    /// </summary>
    /// <exception cref="ArgumentException">The user id or a role is invalid; the message names it.</exception>
    public static void Check(string? userId, IReadOnlyList<string> roles)
    {
        if (userId is not null && TextProblem(userId) is { } userProblem)
        {
            throw new ArgumentException($"Invalid user id: {userProblem}", nameof(userId));
        }

        for (var i = 0; i < roles.Count; i++)
        {
            var problem = roles[i] is null ? $"roles[{i}] is null." : TextProblem(roles[i]) is { } text ? $"roles[{i}]: {text}" : null;
            if (problem is not null)
            {
                throw new ArgumentException($"Invalid role: {problem}", nameof(roles));
            }
        }
    }

    private static string? TextProblem(string value)
    {
        if (value.IndexOf('\0', StringComparison.Ordinal) is var nul and >= 0)
        {
            return $"it contains a NUL character at index {nul}, which PostgreSQL text cannot hold.";
        }

        return ScaleOps.Internal.UnpairedSurrogates.IndexOf(value) is var at and >= 0
            ? $"it contains an unpaired surrogate U+{(int)value[at]:X4} at index {at}, which has no UTF-8 form."
            : null;
    }

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
