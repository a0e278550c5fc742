using System.Collections.Generic;
using System.Threading;
using System.Threading.Tasks;
using Npgsql;

namespace ScaleOps.Partitioning.Internal;

/// <summary>
/// Copies a parent's row-level security onto a partition created by this package (maintenance, a move out of the
/// default partition, a restore), inside the transaction that creates it: PostgreSQL checks a statement that names a
/// partition directly against the partition's own settings, and <c>CREATE TABLE ... LIKE</c> copies none of them.
/// </summary>
internal static class RowSecurity
{
    public static async Task CopyAsync(
        NpgsqlConnection connection, NpgsqlTransaction transaction, string parent, string partition, CancellationToken cancellationToken)
    {
        var statements = new List<string>();
        await using (var read = new NpgsqlBatch(connection, transaction) { BatchCommands = { Read(parent, partition, withPartitions: false) } })
        {
            await using var reader = await read.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            await ReadStatementsAsync(reader, statements, int.MaxValue, cancellationToken).ConfigureAwait(false);
        }

        foreach (var statement in statements)
        {
            await using var command = new NpgsqlCommand(statement, connection, transaction);
            await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Reads <c>RowSecurityCopy.sql</c> for <paramref name="parent"/> onto <paramref name="target"/> (and its partitions).</summary>
    public static NpgsqlBatchCommand Read(string parent, string target, bool withPartitions) => new(Sql.RowSecurityCopy)
    {
        Parameters =
        {
            new NpgsqlParameter<string> { TypedValue = parent },
            new NpgsqlParameter<string> { TypedValue = target },
            new NpgsqlParameter<bool> { TypedValue = withPartitions },
        },
    };

    /// <summary>Adds the statements of a <see cref="Read"/> result whose step is at most <paramref name="maxStep"/> (2: ENABLE and FORCE only).</summary>
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
}
