using System;
using System.Collections.Generic;
using System.Linq;
using System.Security.Cryptography;
using System.Text;
using System.Text.RegularExpressions;
using ScaleOps.Data;

namespace ScaleOps.Rls.Internal;

/// <summary>One policy the package wants on a table: its name, its CREATE POLICY statement and a hash of it.</summary>
internal sealed record DesiredPolicy(string Name, string CreateSql)
{
    public string Hash { get; } = "scaleops:" + Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(CreateSql)))[..16];
}

/// <summary>
/// Renders the policies of a declared table. Every predicate is an equality between a column and a setting read once
/// per statement, <c>col = nullif(current_setting('app.tenant_id', true), '')::type</c>: an index condition, never a
/// per-row function or sub-query, and fail-closed (no tenant set, or reset to '', matches no row).
/// </summary>
internal static partial class PolicyDdl
{
    [GeneratedRegex(@"^[A-Za-z0-9_.:\-]{1,63}$", RegexOptions.CultureInvariant)]
    private static partial Regex RoleName();

    public static string? ValidateRole(string? role) =>
        role is not null && RoleName().IsMatch(role) ? null
            : $"'{role}' is not a valid role name (1 to 63 letters, digits, '_', '.', ':' or '-').";

    /// <summary>
    /// The setting as a value of the column's type. For a type whose values have several spellings (uuid: case, braces;
    /// integers: leading zeros, '+', blanks; bpchar: trailing blanks), a setting not in the type's canonical text form
    /// raises <c>invalid_text_representation</c> naming the canonical form (for bpchar, which takes any text, the message
    /// matches no row instead): '007' and '7' are two tenants to TenantId,
    /// placements and every cache key, but one value to the column, so the policy would let each read and write the
    /// other's rows. Still a single expression over the setting, so still an index condition; no setting still matches
    /// no row. Only the types of <see cref="SupportedColumnTypes"/> (and text[] for the roles) are rendered.
    /// </summary>
    /// <exception cref="InvalidOperationException"><paramref name="type"/> is not supported.</exception>
    public static string Setting(string setting, string type)
    {
        var value = $"nullif(pg_catalog.current_setting('{setting}', true), '')";
        if (HasOneSpelling(setting, type))
        {
            return $"{value}::{type}";
        }

        if (!IsSupportedColumnType(type))
        {
            throw new InvalidOperationException($"RLS cannot compare a column of type {type} with {setting}: {SupportedColumnTypesText}.");
        }

        var raw = $"pg_catalog.current_setting('{setting}', true)";
        return $"CASE WHEN {value}::{type}::text IS DISTINCT FROM {value} THEN ('{setting} ''' || {raw} || ''' is not in the canonical form of "
            + $"the column type (''' || {raw}::{type}::text || '''): another spelling of one value is another tenant to ScaleOps but the "
            + $"same rows to PostgreSQL')::{type} ELSE {value}::{type} END";
    }

    /// <summary>
    /// The tenant and user column types (base types, as TableState.sql names them) whose cast from the setting is exact
    /// and whose text form is canonical, so the policy can compare them with the setting: text and varchar compare their
    /// text as is (read without a length, so nothing is truncated); bpchar ignores trailing blanks, which a TenantId cannot
    /// have (a user id is checked); uuid and the integers are checked against their canonical spelling. Every other type
    /// merges distinct ids: name truncates to 63 bytes, numeric keeps its scale ('7.0' equals 7), floating point rounds,
    /// citext ignores case.
    /// </summary>
    public static readonly IReadOnlyList<string> SupportedColumnTypes =
        ["text", "character varying", "bpchar", "uuid", "smallint", "integer", "bigint"];

    /// <summary>The supported types, for messages.</summary>
    public const string SupportedColumnTypesText =
        "a tenant or user column must be text, varchar, char, uuid, smallint, integer or bigint (or a domain over one), whose values "
        + "have one spelling each or are checked against their canonical spelling";

    /// <summary>Whether a tenant or user column of <paramref name="type"/> (a base type) can be compared with a setting.</summary>
    public static bool IsSupportedColumnType(string type) => SupportedColumnTypes.Contains(type, StringComparer.Ordinal);

    // Text types compare their text as is; bpchar ignores trailing blanks, which a TenantId cannot have (a user id can,
    // so the user setting is checked: 'alice '::bpchar::text is 'alice').
    private static bool HasOneSpelling(string setting, string type) =>
        type is "text" or "character varying" or "text[]" || (type is "bpchar" && setting == RlsSettings.TenantId);

    public static IReadOnlyList<DesiredPolicy> For(RlsTable table, string qualifiedName, string? tenantType, string? userType)
    {
        var tenant = table.TenantColumn is null ? null : $"{SqlIdentifier.Quote(table.TenantColumn)} = {Setting(RlsSettings.TenantId, tenantType!)}";
        var policies = new List<DesiredPolicy>();
        switch (table.Kind)
        {
            case RlsTableKind.Tenant:
                policies.Add(Policy("scaleops_tenant", qualifiedName, "ALL", tenant!, tenant!));
                break;
            case RlsTableKind.UserOwned:
                var owner = And(tenant, $"{SqlIdentifier.Quote(table.UserColumn)} = {Setting(RlsSettings.UserId, userType!)}");
                policies.Add(Policy("scaleops_owner", qualifiedName, "ALL", owner, owner));
                break;
            case RlsTableKind.AuthenticatedRead:
                var authenticated = And(tenant, $"{Setting(RlsSettings.UserId, "text")} IS NOT NULL");
                policies.Add(Policy("scaleops_read", qualifiedName, "SELECT", authenticated, null));
                break;
            case RlsTableKind.RoleOnly:
                var role = And(tenant, HasRole(table.Role!));
                policies.Add(Policy("scaleops_role", qualifiedName, "ALL", role, role));
                break;
            default:
                throw new ArgumentOutOfRangeException(nameof(table), table.Kind, "Unknown RlsTableKind.");
        }

        if (table.ExtraRoles.Count > 0)
        {
            var extra = And(tenant, "(" + string.Join(" OR ", table.ExtraRoles.Select(HasRole)) + ")");
            policies.Add(Policy("scaleops_extra_roles", qualifiedName, "ALL", extra, extra));
        }

        return policies;
    }

    // The role name is validated (letters, digits, _ . : -), so it is safe as a literal in DDL.
    private static string HasRole(string role) =>
        $"'{role}' = ANY (coalesce({Setting(RlsSettings.Roles, "text[]")}, '{{}}'::text[]))";

    private static string And(string? left, string right) => left is null ? right : $"{left} AND {right}";

    private static DesiredPolicy Policy(string name, string table, string command, string @using, string? check) =>
        new(name, $"CREATE POLICY {SqlIdentifier.Quote(name)} ON {table} AS PERMISSIVE FOR {command} TO PUBLIC USING ({@using})"
            + (check is null ? "" : $" WITH CHECK ({check})"));
}
