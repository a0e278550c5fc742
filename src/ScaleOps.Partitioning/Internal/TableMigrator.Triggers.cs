using System;
using System.Collections.Generic;
using System.Threading;
using System.Threading.Tasks;
using Npgsql;
using ScaleOps.Data;

namespace ScaleOps.Partitioning.Internal;

internal sealed partial class TableMigrator
{
    private sealed record Trigger(string Name, string Definition, char Enabled, bool Constraint, bool RowTransition, string PrintedTable, bool TwinHasIt);

    /// <summary>
    /// The user triggers of the source ($1) with their definition, enabled state, whether the target ($2) has one of the
    /// same name, and the source's name as PostgreSQL prints it in a definition. Internal triggers (a foreign key's) are
    /// not the user's: they belong to their constraint.
    /// </summary>
    private const string TriggersSql =
        "SELECT t.tgname::text, pg_catalog.pg_get_triggerdef(t.oid), t.tgenabled, t.tgconstraint <> 0, "
        + "(t.tgtype & 1) = 1 AND (t.tgnewtable IS NOT NULL OR t.tgoldtable IS NOT NULL), "
        + "pg_catalog.quote_ident(n.nspname) || '.' || pg_catalog.quote_ident(c.relname), "
        + "EXISTS (SELECT 1 FROM pg_catalog.pg_trigger x WHERE x.tgrelid = to_regclass($2) AND x.tgname = t.tgname) "
        + "FROM pg_catalog.pg_trigger t JOIN pg_catalog.pg_class c ON c.oid = t.tgrelid JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
        + "WHERE t.tgrelid = to_regclass($1) AND NOT t.tgisinternal ORDER BY 1";

    private async Task<List<Trigger>> TriggersAsync(string qualifiedSource, string qualifiedTarget, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand(TriggersSql);
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = qualifiedSource });
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = qualifiedTarget });
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        return await ReadTriggersAsync(reader, cancellationToken).ConfigureAwait(false);
    }

    private static async Task<List<Trigger>> ReadTriggersAsync(NpgsqlDataReader reader, CancellationToken cancellationToken)
    {
        var list = new List<Trigger>();
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            list.Add(new Trigger(reader.GetString(0), reader.GetString(1), reader.GetChar(2), reader.GetBoolean(3), reader.GetBoolean(4),
                reader.GetString(5), reader.GetBoolean(6)));
        }

        return list;
    }

    /// <summary>
    /// Refuses, before anything changes, a trigger the partitioned table cannot take over: a constraint trigger (not
    /// carried), a row trigger with transition tables (PostgreSQL refuses them on a partitioned table and on a partition).
    /// </summary>
    /// <exception cref="InvalidOperationException">Naming every such trigger.</exception>
    private async Task RefuseTriggersAsync(string qualifiedSource, string qualifiedTarget, CancellationToken cancellationToken)
    {
        var refused = new List<string>();
        foreach (var trigger in await TriggersAsync(qualifiedSource, qualifiedTarget, cancellationToken).ConfigureAwait(false))
        {
            if (trigger.Constraint)
            {
                refused.Add($"{SqlIdentifier.Quote(trigger.Name)} (a constraint trigger)");
            }
            else if (trigger.RowTransition)
            {
                refused.Add($"{SqlIdentifier.Quote(trigger.Name)} (a row trigger with transition tables)");
            }
            else if (TriggerTail(trigger) is null)
            {
                refused.Add($"{SqlIdentifier.Quote(trigger.Name)} (its definition could not be read: {trigger.Definition})");
            }
        }

        if (refused.Count > 0)
        {
            throw new InvalidOperationException(
                $"{qualifiedSource} has trigger {string.Join(", ", refused)}; it is not converted. The partitioned table takes over the old "
                + "table's triggers, and PostgreSQL does not allow these on a partitioned table or its partitions (or they are not carried). "
                + "Drop them first (and create what you need on the partitioned table once the swap is done).");
        }
    }

    /// <summary>
    /// In the swap transaction, before the renames: creates every user trigger of the old table on the partitioned table
    /// (row triggers are cloned to each partition, the ATTACH of the old table included), with its enabled state, and drops
    /// the old table's own: the ATTACH refuses a same-named trigger, and a row of the default would fire both. A trigger
    /// the twin already has by name is the twin's; the old table's copy is dropped all the same.
    /// </summary>
    private static void CarryTriggers(List<Trigger> triggers, string qualifiedSource, string qualifiedTarget, List<string> statements)
    {
        foreach (var trigger in triggers)
        {
            var name = SqlIdentifier.Quote(trigger.Name);
            statements.Add($"DROP TRIGGER {name} ON {qualifiedSource}");
            if (trigger.TwinHasIt)
            {
                continue;
            }

            var (head, tail) = TriggerTail(trigger)
                ?? throw new InvalidOperationException($"The definition of trigger {name} on {qualifiedSource} could not be read: {trigger.Definition}");
            statements.Add(head + qualifiedTarget + tail);
            switch (trigger.Enabled)
            {
                case 'D':
                    statements.Add($"ALTER TABLE {qualifiedTarget} DISABLE TRIGGER {name}");
                    break;
                case 'R':
                    statements.Add($"ALTER TABLE {qualifiedTarget} ENABLE REPLICA TRIGGER {name}");
                    break;
                case 'A':
                    statements.Add($"ALTER TABLE {qualifiedTarget} ENABLE ALWAYS TRIGGER {name}");
                    break;
            }
        }
    }

    /// <summary>
    /// Splits <c>CREATE TRIGGER name timing events ON schema.table rest</c> around the table: the first <c> ON </c> outside a
    /// quoted identifier (the name and the <c>UPDATE OF</c> columns are printed quoted when they need it), which must be
    /// followed by the table exactly as PostgreSQL prints it. Null when the definition does not have that shape.
    /// </summary>
    private static (string Head, string Tail)? TriggerTail(Trigger trigger)
    {
        var definition = trigger.Definition;
        if (!definition.StartsWith("CREATE TRIGGER ", StringComparison.Ordinal))
        {
            return null;
        }

        var quoted = false;
        for (var i = 0; i < definition.Length; i++)
        {
            if (definition[i] == '"')
            {
                quoted = !quoted;
            }
            else if (!quoted && string.CompareOrdinal(definition, i, " ON ", 0, 4) == 0)
            {
                var at = i + 4;
                var table = trigger.PrintedTable + " ";
                return string.CompareOrdinal(definition, at, table, 0, table.Length) == 0
                    ? (definition[..at], definition[(at + table.Length - 1)..])
                    : null;
            }
        }

        return null;
    }
}
