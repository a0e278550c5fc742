using System;
using System.Collections.Generic;
using System.Threading;
using System.Threading.Tasks;
using Npgsql;
using ScaleOps.Data;

namespace ScaleOps.Partitioning.Internal;

internal sealed partial class TableMigrator
{
    /// <summary>Whether the target ($1) has a policy of its own.</summary>
    private const string PolicyExistsSql = "SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_policy WHERE polrelid = to_regclass($1))";

    /// <summary>The partitions of the target ($1), made ahead of the cut before the swap: schema, name, owner.</summary>
    private const string PartitionOwnersSql =
        "SELECT n.nspname::text, c.relname::text, r.rolname::text FROM pg_catalog.pg_inherits i JOIN pg_catalog.pg_class c ON c.oid = i.inhrelid "
        + "JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace JOIN pg_catalog.pg_roles r ON r.oid = c.relowner "
        + "WHERE i.inhparent = to_regclass($1) ORDER BY 2";

    /// <summary>
    /// The swap transaction: the source is locked ACCESS EXCLUSIVE and everything the partitioned table takes over from it
    /// is read in the same round trip; then, in a second one, the carry-over and the swap itself run as one batch:
    /// sequences, row-level security, triggers, owner, grants and comments of the old table onto the partitioned table,
    /// the same row-level security, owner and grants onto the partitions made ahead for it, the constraints ATTACH needs,
    /// the renames and the ATTACH of the old table as the default partition. The carry-over once took a round trip per
    /// read and per statement (about a dozen), all under the lock: the swap went from 19-22 to 36-43 ms at 500,000 rows.
    /// </summary>
    private static async Task<int> SwapAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, string schema, string source, string target,
        string legacyName, CancellationToken cancellationToken)
    {
        var qualifiedSource = SqlIdentifier.Qualify(schema, source);
        var qualifiedTarget = SqlIdentifier.Qualify(schema, target);
        var commands = new List<NpgsqlBatchCommand>();
        var statements = new List<string>();
        await using (var reads = new NpgsqlBatch(connection, transaction))
        {
            reads.BatchCommands.Add(new NpgsqlBatchCommand($"LOCK TABLE {qualifiedSource} IN ACCESS EXCLUSIVE MODE"));
            reads.BatchCommands.Add(Read(SequencedColumnsSql, qualifiedSource, qualifiedTarget));
            reads.BatchCommands.Add(Read(PolicyExistsSql, qualifiedTarget));
            reads.BatchCommands.Add(PartitionAccess.RowSecurityRead(qualifiedSource, qualifiedTarget, withPartitions: true, targetIsPartition: false));
            reads.BatchCommands.Add(Read(TriggersSql, qualifiedSource, qualifiedTarget));
            reads.BatchCommands.Add(PartitionAccess.AccessRead(qualifiedSource, qualifiedTarget));
            reads.BatchCommands.Add(Read(CommentsSql, qualifiedSource, qualifiedTarget));
            reads.BatchCommands.Add(Read(PartitionOwnersSql, qualifiedTarget));
            reads.BatchCommands.Add(Read(Sql.IndexDefinitions, qualifiedSource));
            reads.BatchCommands.Add(Read(Sql.IndexDefinitions, qualifiedTarget));
            await using var reader = await reads.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);

            // The LOCK returns no result set: the reader starts on the sequences'.
            AlignSequences(await ReadSequencedColumnsAsync(reader, cancellationToken).ConfigureAwait(false), qualifiedSource, qualifiedTarget, commands);

            // Row-level security: the old table's ENABLE and FORCE, and its policies unless the twin has its own (a copied
            // permissive policy would widen them); the same onto the partitions made ahead, made for the twin without them.
            await NextAsync(reader, cancellationToken).ConfigureAwait(false);
            await reader.ReadAsync(cancellationToken).ConfigureAwait(false);
            var twinHasPolicies = reader.GetBoolean(0);
            await NextAsync(reader, cancellationToken).ConfigureAwait(false);
            await PartitionAccess.ReadStatementsAsync(reader, statements, twinHasPolicies ? 2 : int.MaxValue, cancellationToken).ConfigureAwait(false);

            await NextAsync(reader, cancellationToken).ConfigureAwait(false);
            CarryTriggers(await ReadTriggersAsync(reader, cancellationToken).ConfigureAwait(false), qualifiedSource, qualifiedTarget, statements);

            // Owner and grants, each grant made by its grantor (refused up front already when one cannot be: a grant made
            // since is refused here, and the swap rolls back), then the comments the twin lacks.
            await NextAsync(reader, cancellationToken).ConfigureAwait(false);
            var access = await GrantPlan.ReadAsync(reader, qualifiedTarget, cancellationToken).ConfigureAwait(false);
            var left = GrantPlan.Append(access, qualifiedTarget, access.TargetOwner, statements);
            if (left.Count > 0)
            {
                throw GrantorsRefused(qualifiedSource, access.CurrentUser, left);
            }

            await NextAsync(reader, cancellationToken).ConfigureAwait(false);
            await CarryCommentsAsync(reader, qualifiedTarget, statements, cancellationToken).ConfigureAwait(false);

            // The partitions made ahead: the same owner and grants (their row-level security came with the statements above).
            await NextAsync(reader, cancellationToken).ConfigureAwait(false);
            while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                GrantPlan.Append(access, SqlIdentifier.Qualify(reader.GetString(0), reader.GetString(1)), reader.GetString(2), statements);
            }

            await NextAsync(reader, cancellationToken).ConfigureAwait(false);
            var existing = await ReadIndexesAsync(reader, cancellationToken).ConfigureAwait(false);
            await NextAsync(reader, cancellationToken).ConfigureAwait(false);
            var wanted = await ReadIndexesAsync(reader, cancellationToken).ConfigureAwait(false);
            statements.AddRange(ConstraintStatements(qualifiedSource, existing, wanted));
        }

        statements.Add($"ALTER TABLE {qualifiedSource} RENAME TO {SqlIdentifier.Quote(legacyName)}");
        statements.Add($"ALTER TABLE {qualifiedTarget} RENAME TO {SqlIdentifier.Quote(source)}");
        statements.Add($"ALTER TABLE {qualifiedSource} ATTACH PARTITION {SqlIdentifier.Qualify(schema, legacyName)} DEFAULT");

        await using var writes = new NpgsqlBatch(connection, transaction);
        foreach (var command in commands)
        {
            writes.BatchCommands.Add(command);
        }

        foreach (var statement in statements)
        {
            writes.BatchCommands.Add(new NpgsqlBatchCommand(statement));
        }

        return await writes.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    private static NpgsqlBatchCommand Read(string sql, params string[] values)
    {
        var command = new NpgsqlBatchCommand(sql);
        foreach (var value in values)
        {
            command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = value });
        }

        return command;
    }

    private static async Task NextAsync(NpgsqlDataReader reader, CancellationToken cancellationToken)
    {
        if (!await reader.NextResultAsync(cancellationToken).ConfigureAwait(false))
        {
            throw new InvalidOperationException("The swap's catalog reads returned fewer results than asked for.");
        }
    }
}
