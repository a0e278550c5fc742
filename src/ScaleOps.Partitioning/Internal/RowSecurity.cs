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
        await using (var read = new NpgsqlCommand(Sql.RowSecurityCopy, connection, transaction))
        {
            read.Parameters.Add(new NpgsqlParameter<string> { TypedValue = parent });
            read.Parameters.Add(new NpgsqlParameter<string> { TypedValue = partition });
            await using var reader = await read.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                statements.Add(reader.GetString(0));
            }
        }

        foreach (var statement in statements)
        {
            await using var command = new NpgsqlCommand(statement, connection, transaction);
            await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }
    }
}
