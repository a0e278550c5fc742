using System;
using System.Collections.Generic;
using System.Threading;
using System.Threading.Tasks;
using Microsoft.Extensions.Logging;
using Npgsql;
using ScaleOps.Data;
using ScaleOps.Rls.Safety;

namespace ScaleOps.Rls.Internal;

/// <summary>The start-up checks: errors refuse the start (all listed at once), warnings are logged.</summary>
internal static class SafetyChecks
{
    public static async Task<(List<string> Errors, List<string> Warnings)> RunAsync(
        NpgsqlDataSource dataSource, RlsOptions options, string schema, ILogger logger, CancellationToken cancellationToken)
    {
        var errors = new List<string>();
        var warnings = new List<string>();
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);

        string appRole;
        await using (var command = new NpgsqlCommand(RlsSql.RoleCheck, connection))
        {
            command.Parameters.Add(TenantContextCommand.Text(schema));
            await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            await reader.ReadAsync(cancellationToken).ConfigureAwait(false);
            var role = appRole = reader.GetString(0);
            AddContextProcedureError(errors, role, schema, $"{reader.GetString(3)} ({connection.Host}:{connection.Port})", reader.GetBoolean(4), reader.GetBoolean(5));
            AddSessionContextErrors(errors, role, reader);
            var attribute = reader.GetBoolean(1) ? "SUPERUSER" : reader.GetBoolean(2) ? "BYPASSRLS" : null;
            if (attribute is not null && options.AllowBypassRlsRole)
            {
                RlsLog.BypassRoleAllowed(logger, role, attribute);
            }
            else if (attribute is not null)
            {
                errors.Add($"the application connects as role {role}, which is {attribute}: row-level security does not apply to it, even with FORCE. "
                    + "Connect as a NOSUPERUSER NOBYPASSRLS role (use ScaleOps:Rls:BypassConnectionString for system work), "
                    + "or set ScaleOps:Rls:AllowBypassRlsRole = true (never in production).");
            }
        }

        var protectedTables = new List<string>();
        var declared = new HashSet<string>(StringComparer.Ordinal);
        var children = new List<(string Parent, string Child)>();
        foreach (var table in options.Tables)
        {
            var state = await TableStateReader.ReadAsync(connection, null, table, cancellationToken).ConfigureAwait(false);
            if (state is null)
            {
                errors.Add($"declared table {table.Schema}.{table.Name} does not exist.");
                continue;
            }

            protectedTables.Add(state.Name);
            declared.Add(state.Name);
            AddPrivilegeWarning(warnings, appRole, $"table {state.Name}", state.Owned, state.CanTruncate);
            foreach (var child in await TableStateReader.InheritanceChildrenAsync(connection, state.Name, cancellationToken).ConfigureAwait(false))
            {
                children.Add((state.Name, child));
            }

            if (!state.RowSecurity)
            {
                errors.Add($"table {state.Name} does not have row level security enabled (ALTER TABLE ... ENABLE ROW LEVEL SECURITY, or apply the policies).");
            }

            if (!state.ForceRowSecurity)
            {
                errors.Add($"table {state.Name} does not FORCE row level security: its owner sees every tenant (ALTER TABLE ... FORCE ROW LEVEL SECURITY).");
            }

            if (state.PolicyCount == 0)
            {
                errors.Add($"table {state.Name} has no policy: with RLS enabled nobody sees a row; without it everybody does.");
            }

            var typesKnown = state.ColumnProblem(table) is null && (table.TenantColumn is null || state.TenantType is not null)
                && (table.Kind != RlsTableKind.UserOwned || state.UserType is not null);
            Dictionary<string, ExistingPolicy>? parentPolicies = null;
            if (typesKnown)
            {
                parentPolicies = await CheckScaleOpsPoliciesAsync(
                    connection, table, SqlIdentifier.Qualify(table.Schema, table.Name), state.Name, state, null, errors, cancellationToken).ConfigureAwait(false);
            }

            foreach (var partition in await TableStateReader.PartitionsAsync(connection, null, state.Name, cancellationToken).ConfigureAwait(false))
            {
                // A view over a partition reads its rows as directly as a view over the table.
                protectedTables.Add(partition.Qualified);
                AddPrivilegeWarning(warnings, appRole, $"partition {partition.Qualified} of {state.Name}", partition.Owned, partition.CanTruncate);
                if (partition.ForeignPermissivePolicies is { } partitionForeign)
                {
                    warnings.Add(ForeignPoliciesWarning($"partition {partition.Qualified} of {state.Name}", partitionForeign));
                }

                // Statements on a partition by its own name use the partition's policies, not the parent's.
                if (!partition.RowSecurity || !partition.ForceRowSecurity || partition.PolicyCount == 0)
                {
                    errors.Add($"partition {partition.Qualified} of {state.Name} does not have row level security enabled, forced and a policy: "
                        + "a query naming the partition directly sees every tenant's rows. Apply the policies (RlsPolicyManager, or "
                        + "ScaleOps:Rls:ApplyPoliciesOnStart), which cover every partition of a declared table.");
                }

                if (parentPolicies is not null)
                {
                    await CheckScaleOpsPoliciesAsync(connection, table, partition.Qualified, partition.Name, state, parentPolicies, errors, cancellationToken)
                        .ConfigureAwait(false);
                }
            }

            if (state.ForeignPermissivePolicies is { } foreign)
            {
                warnings.Add(ForeignPoliciesWarning($"table {state.Name}", foreign));
            }

            if (state.ColumnProblem(table) is { } columnProblem)
            {
                errors.Add(columnProblem);
            }

            if (table.TenantColumn is not null && state.TenantType is null)
            {
                errors.Add($"table {state.Name} has no column {table.TenantColumn} (its declared TenantColumn).");
            }
            else if (table.TenantColumn is not null && !state.HasTenantIndex)
            {
                warnings.Add($"table {state.Name} has no index leading with {table.TenantColumn}; every tenant query scans the table. Create one: "
                    + $"CREATE INDEX CONCURRENTLY ON {SqlIdentifier.Qualify(table.Schema, table.Name)} ({SqlIdentifier.Quote(table.TenantColumn)});");
            }

            if (state.UniqueWithoutTenant is { } unique)
            {
                warnings.Add($"table {state.Name} has unique indexes without its tenant column {table.TenantColumn} ({unique}): a tenant whose insert "
                    + "or update collides with another tenant's value gets a unique violation, which tells it that the value (an email, a slug) "
                    + $"exists in another tenant. Put {table.TenantColumn} first in such an index, unless the value must be unique across tenants.");
            }
        }

        // An inheritance child is not a partition: the policy manager does not secure it, and a statement naming it uses
        // its own row security (none), so it is refused unless it is declared itself.
        foreach (var (parent, child) in children)
        {
            if (!declared.Contains(child))
            {
                errors.Add($"table {child} inherits from the declared table {parent} (INHERITS) but is not declared itself: a query naming it "
                    + "directly sees every tenant's rows, and ScaleOps secures only partitions of a declared table. Declare it in "
                    + "ScaleOps:Rls:Tables (and apply the policies), or ALTER TABLE ... NO INHERIT.");
            }
        }

        await AddUndeclaredTenantTableWarningsAsync(connection, options, schema, declared, children, warnings, cancellationToken).ConfigureAwait(false);

        foreach (var view in await RlsSchemaAuditor.LeakingViewsAsync(connection, protectedTables, cancellationToken).ConfigureAwait(false))
        {
            errors.Add(view + ".");
        }

        await AddDefinerFunctionWarningsAsync(connection, warnings, cancellationToken).ConfigureAwait(false);
        return (errors, warnings);
    }

    // A warning, not an error: such a function may be meant to read across tenants (an admin report), and whether it
    // touches a protected table at all cannot be told from the catalog (a PL/pgSQL body records no dependency).
    private static async Task AddDefinerFunctionWarningsAsync(NpgsqlConnection connection, List<string> warnings, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand(RlsSql.DefinerFunctions, connection);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            warnings.Add($"function {reader.GetString(0)} is SECURITY DEFINER and owned by role {reader.GetString(1)}, which bypasses row-level security "
                + "(SUPERUSER or BYPASSRLS), and the application role may call it: whatever it reads or changes in a protected table, it does for "
                + $"every tenant. Make it SECURITY INVOKER, give it an owner without SUPERUSER or BYPASSRLS (the policies then bind it), or "
                + $"REVOKE EXECUTE ON ROUTINE {reader.GetString(0)} FROM PUBLIC and from the application role.");
        }
    }

    // A table created after the policies were applied (or never declared) is checked by nothing above: one that has the
    // tenant column of the declared tables, in their schema, with no row security of its own, that the application role
    // may read or write, is every tenant's to read. A warning, not an error: such a table may be meant for system work
    // (read through RlsBypass) with grants still to be revoked. ScaleOps' own schema (jobs, audit, quotas: cross-tenant
    // tables with a tenant_id) is left out; a partition is named by its root.
    private static async Task AddUndeclaredTenantTableWarningsAsync(
        NpgsqlConnection connection, RlsOptions options, string scaleOpsSchema, HashSet<string> declared, List<(string Parent, string Child)> children,
        List<string> warnings, CancellationToken cancellationToken)
    {
        var inherited = new HashSet<string>(StringComparer.Ordinal);
        foreach (var (_, child) in children)
        {
            inherited.Add(child); // refused above already
        }

        var scanned = new HashSet<(string Schema, string Column)>();
        foreach (var table in options.Tables)
        {
            if (table.TenantColumn is not { } column || string.Equals(table.Schema, scaleOpsSchema, StringComparison.Ordinal)
                || !scanned.Add((table.Schema, column)))
            {
                continue;
            }

            foreach (var (name, reason, isPartition, reachable) in
                     await RlsSchemaAuditor.UnprotectedTablesAsync(connection, table.Schema, column, cancellationToken).ConfigureAwait(false))
            {
                if (reachable && !isPartition && !declared.Contains(name) && !inherited.Contains(name))
                {
                    warnings.Add($"table {name} has the tenant column {column} of the declared tables in schema {table.Schema} but is not declared "
                        + $"in ScaleOps:Rls:Tables, and row-level security does not protect it ({reason}): every tenant's queries reach all of its "
                        + "rows. Declare it (and apply the policies), or, if only system work uses it, REVOKE the application role's privileges on it.");
                }
            }
        }
    }

    // Every tenant statement starts with CALL schema.rls_set_context(...): without it, or without the right to call it,
    // every tenant statement fails (safely, but the first request finds out; on a shard only its tenants fail).
    private static void AddContextProcedureError(List<string> errors, string role, string schema, string database, bool exists, bool callable)
    {
        var procedure = $"{SqlIdentifier.Quote(schema)}.rls_set_context(text, text, text[])";
        if (!exists)
        {
            errors.Add($"the tenant context procedure {procedure} does not exist in database {database}: every tenant statement there would "
                + "fail. Run ScaleOps' migrations on it: ScaleOps:ApplyMigrationsOnStart (which installs it on every shard too), or "
                + "IScaleOpsMigrator.MigrateAsync in a migration step whose ScaleOps:ConnectionString is this database's (it migrates that "
                + "database only).");
        }
        else if (!callable)
        {
            errors.Add($"the application role {role} may not call the tenant context procedure {procedure} in database {database}: every "
                + $"tenant statement there would fail. GRANT USAGE ON SCHEMA {SqlIdentifier.Quote(schema)} TO {SqlIdentifier.Quote(role)}; "
                + $"GRANT EXECUTE ON PROCEDURE {procedure} TO {SqlIdentifier.Quote(role)};");
        }
    }

    /// <summary>
    /// A context setting the session starts with (<c>ALTER ROLE</c>/<c>ALTER DATABASE ... SET</c>, the connection string's
    /// <c>Options</c>, <c>PGOPTIONS</c>): the transaction-local context falls back to it at every transaction's end, so
    /// the policies are no longer fail-closed: a statement without the context runs as that tenant, user or role.
    /// </summary>
    private static void AddSessionContextErrors(List<string> errors, string role, NpgsqlDataReader reader)
    {
        ReadOnlySpan<(string Setting, string What)> settings =
            [(RlsSettings.TenantId, "tenant"), (RlsSettings.UserId, "user"), (RlsSettings.Roles, "holder of those roles")];
        for (var i = 0; i < settings.Length; i++)
        {
            var value = reader.IsDBNull(6 + i) ? "" : reader.GetString(6 + i);
            if (value.Length > 0)
            {
                var (setting, what) = settings[i];
                errors.Add($"the application's sessions start with {setting} = '{value}' (a default of role {role} or of the database, or the "
                    + "connection string's Options or PGOPTIONS): the tenant context is set per transaction and falls back to that value at each "
                    + "transaction's end, so a statement sent without the context (on TenantConnection.Connection, after a tenant transaction, "
                    + $"on the shared NpgsqlDataSource) runs as that {what} instead of seeing no row. Remove it: ALTER ROLE {role} RESET {setting} "
                    + $"(ALTER ROLE {role} IN DATABASE ... RESET or ALTER DATABASE ... RESET where it was set there), or drop it from Options.");
            }
        }
    }

    // TRUNCATE ignores row security (one tenant's TRUNCATE empties every tenant's rows), and the owner may disable row
    // security or drop the policies. The README's ApplyPoliciesOnStart setup has the application role own the tables,
    // so this is a warning, not an error: the fix is a separate owner role (RlsPolicyManager.ApplyAsOwnerAsync).
    private static void AddPrivilegeWarning(List<string> warnings, string role, string relation, bool owned, bool canTruncate)
    {
        if (owned || canTruncate)
        {
            var what = owned ? "owns (or is a member of the role that owns)" : "has the TRUNCATE privilege on";
            warnings.Add($"the application role {role} {what} {relation}: TRUNCATE ignores row-level security, so one tenant's TRUNCATE "
                + "empties every tenant's rows" + (owned ? ", and the owner can disable row security or drop the policies" : "")
                + ". Let a separate role own the tables and apply the policies as that role (RlsPolicyManager.ApplyAsOwnerAsync from "
                + "the migration step, ScaleOps:Rls:ApplyPoliciesOnStart = false), and grant the application role only SELECT, INSERT, "
                + "UPDATE, DELETE.");
        }
    }

    // A statement on a partition by its own name is checked against the partition's policies only, so a permissive one
    // there widens direct reads of the partition just as one on the table widens reads of the table.
    private static string ForeignPoliciesWarning(string relation, string policies) =>
        $"{relation} has permissive policies that ScaleOps does not manage ({policies}): PostgreSQL ORs every "
        + "permissive policy with the tenant policy, so each must itself keep to the tenant's rows, or it shows other tenants' "
        + "rows. Make it AS RESTRICTIVE, or give it the tenant condition.";

    // Every policy ScaleOps declares for the relation must be there, and every scaleops_* policy must be exactly what
    // ScaleOps creates for the relation: its comment records the statement
    // and the fingerprint of the definition it had when created, and ALTER POLICY changes the definition but keeps the
    // comment. (The foreign-permissive-policy warning skips scaleops_* names, so this is where they are judged.) A
    // partition's policy may also be an uncommented copy of its parent's sound policy, as ScaleOps.Partitioning makes for
    // the partitions it creates: same name, same fingerprint.
    private static async Task<Dictionary<string, ExistingPolicy>> CheckScaleOpsPoliciesAsync(
        NpgsqlConnection connection, RlsTable table, string qualified, string name, TableState state,
        Dictionary<string, ExistingPolicy>? parentPolicies, List<string> errors, CancellationToken cancellationToken)
    {
        var desired = PolicyDdl.For(table, qualified, state.TenantType, state.UserType);
        var existing = await TableStateReader.ScaleOpsPoliciesAsync(connection, null, qualified, cancellationToken).ConfigureAwait(false);
        var sound = new Dictionary<string, ExistingPolicy>(StringComparer.Ordinal);
        foreach (var policy in existing.Values)
        {
            var problem = policy.Problem(name, desired);
            if (problem is not null && parentPolicies is not null && parentPolicies.TryGetValue(policy.Name, out var parent)
                && string.Equals(parent.Fingerprint, policy.Fingerprint, StringComparison.Ordinal))
            {
                problem = null;
            }

            if (problem is null)
            {
                sound[policy.Name] = policy;
            }
            else
            {
                errors.Add(problem);
            }
        }

        // A declared policy that is missing (dropped, perhaps replaced by an open one under another name) leaves the
        // relation to whatever policies remain.
        foreach (var policy in desired)
        {
            if (!existing.ContainsKey(policy.Name))
            {
                errors.Add($"table {name} lacks the policy {policy.Name} that ScaleOps declares for it (dropped or never applied): whatever "
                    + "policies remain decide what every tenant sees. Apply the policies (RlsPolicyManager, or ScaleOps:Rls:ApplyPoliciesOnStart).");
            }
        }

        return sound;
    }

    /// <summary>
    /// Runs the checks on one database, logs its warnings and returns its errors, each prefixed with
    /// <paramref name="label"/> (a shard's name and database, so that its problems are not taken for the primary's).
    /// </summary>
    public static async Task<List<string>> VerifyAsync(
        NpgsqlDataSource dataSource, RlsOptions options, string schema, ILogger logger, string? label, CancellationToken cancellationToken)
    {
        var (errors, warnings) = await RunAsync(dataSource, options, schema, logger, cancellationToken).ConfigureAwait(false);
        foreach (var warning in warnings)
        {
            RlsLog.SafetyWarning(logger, label + warning);
        }

        return label is null ? errors : errors.ConvertAll(error => label + error);
    }
}
