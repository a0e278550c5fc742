using System.Collections.Generic;
using System.Threading;
using System.Threading.Tasks;
using Npgsql;

namespace ScaleOps.Partitioning.Internal;

/// <summary>
/// Gives a partition created by this package (maintenance, a move out of the default partition, a restore) its parent's
/// row-level security, owner and grants, inside the transaction that creates it. PostgreSQL checks a statement that
/// names a partition directly against the partition's own grants and row-level security, not the parent's, and
/// <c>CREATE TABLE ... LIKE</c> copies none of them: without them a role granted on the parent was refused on the
/// partition ("permission denied"), a partition without the policies showed every tenant's rows to a role that could
/// reach it, and the parent's owner did not own it (and could not drop it).
/// </summary>
/// <remarks>
/// Two round trips: the reads in one batch, the statements in another. A grant made by another role than the owner is
/// made as that role (<see cref="GrantPlan"/>), so that its grantor's REVOKE on the partition removes it; one the current
/// role cannot make as its grantor is left out (the grantee reads the partition through the parent only). The owner is
/// given when the current role may (see <c>AccessRead.sql</c>), else the partition stays the current role's.
/// </remarks>
internal static class PartitionAccess
{
    public static async Task CopyAsync(
        NpgsqlConnection connection, NpgsqlTransaction transaction, string parent, string partition, CancellationToken cancellationToken)
    {
        var statements = new List<string>();
        GrantPlan.Access access;
        await using (var reads = new NpgsqlBatch(connection, transaction))
        {
            reads.BatchCommands.Add(RowSecurityRead(parent, partition, withPartitions: false, targetIsPartition: true));
            reads.BatchCommands.Add(AccessRead(parent, partition));
            await using var reader = await reads.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            await ReadStatementsAsync(reader, statements, maxStep: int.MaxValue, cancellationToken).ConfigureAwait(false);
            await reader.NextResultAsync(cancellationToken).ConfigureAwait(false);
            access = await GrantPlan.ReadAsync(reader, partition, cancellationToken).ConfigureAwait(false);
        }

        // Grants a role other than the owner made, which the current role cannot make as that role, are left out.
        GrantPlan.Append(access, partition, access.TargetOwner, statements);
        await ExecuteAsync(connection, transaction, statements, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Reads <c>RowSecurityCopy.sql</c> for <paramref name="parent"/> onto <paramref name="target"/> (and its partitions);
    /// the policy copies on partitions get <see cref="RowSecuritySync.CopyMarker"/> as their comment.
    /// </summary>
    public static NpgsqlBatchCommand RowSecurityRead(string parent, string target, bool withPartitions, bool targetIsPartition) => new(Sql.RowSecurityCopy)
    {
        Parameters =
        {
            new NpgsqlParameter<string> { TypedValue = parent },
            new NpgsqlParameter<string> { TypedValue = target },
            new NpgsqlParameter<bool> { TypedValue = withPartitions },
            new NpgsqlParameter<string> { TypedValue = RowSecuritySync.CopyMarker },
            new NpgsqlParameter<bool> { TypedValue = targetIsPartition },
        },
    };

    /// <summary>Reads <c>AccessRead.sql</c>: the owner and grants of <paramref name="source"/> that <paramref name="target"/> is to get.</summary>
    public static NpgsqlBatchCommand AccessRead(string source, string target) => new(Sql.AccessRead)
    {
        Parameters = { new NpgsqlParameter<string> { TypedValue = source }, new NpgsqlParameter<string> { TypedValue = target } },
    };

    /// <summary>Adds the statements of a <see cref="RowSecurityRead"/> result whose step is at most <paramref name="maxStep"/> (2: ENABLE and FORCE only; the policies are 3, their marks 4).</summary>
    public static async Task ReadStatementsAsync(NpgsqlDataReader reader, List<string> statements, int maxStep, CancellationToken cancellationToken)
    {
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            if (reader.GetInt32(1) <= maxStep)
            {
                statements.Add(reader.GetString(0));
            }
        }
    }

    /// <summary>Runs the statements in one round trip (one Npgsql batch, one statement per command), in order.</summary>
    public static async Task ExecuteAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, IReadOnlyList<string> statements,
        CancellationToken cancellationToken)
    {
        if (statements.Count == 0)
        {
            return;
        }

        await using var batch = new NpgsqlBatch(connection, transaction);
        foreach (var statement in statements)
        {
            batch.BatchCommands.Add(new NpgsqlBatchCommand(statement));
        }

        await batch.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }
}
