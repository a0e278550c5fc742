using System.Threading;
using System.Threading.Tasks;
using Npgsql;

namespace ScaleOps.Partitioning.Internal;

internal sealed partial class TableMigrator
{
    /// <summary>
    /// In the swap transaction, before the renames: gives the partitioned table the old table's row-level security.
    /// The old table keeps its own as the default partition, but a query through the parent is checked against the
    /// parent's only: a twin made without them showed every tenant's rows to every tenant from the swap on. ENABLE and
    /// FORCE are set where the old table has them (they only restrict); the old table's policies are copied only when the
    /// twin has none of its own, since adding a permissive policy to the twin's own would widen what they allow.
    /// </summary>
    private static async Task CarryRowSecurityAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, string qualifiedSource,
        string qualifiedTarget, CancellationToken cancellationToken)
    {
        await using (var read = new NpgsqlCommand(
            "SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_policy WHERE polrelid = to_regclass($1))", connection, transaction))
        {
            read.Parameters.Add(new NpgsqlParameter<string> { TypedValue = qualifiedTarget });
            if (!(bool)(await read.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false))!)
            {
                await RowSecurity.CopyAsync(connection, transaction, qualifiedSource, qualifiedTarget, cancellationToken).ConfigureAwait(false);
                return;
            }
        }

        await using var flags = new NpgsqlCommand(
            "SELECT relrowsecurity, relforcerowsecurity FROM pg_catalog.pg_class WHERE oid = to_regclass($1)", connection, transaction);
        flags.Parameters.Add(new NpgsqlParameter<string> { TypedValue = qualifiedSource });
        bool enable, force;
        await using (var reader = await flags.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false))
        {
            await reader.ReadAsync(cancellationToken).ConfigureAwait(false);
            (enable, force) = (reader.GetBoolean(0), reader.GetBoolean(1));
        }

        var sql = (enable ? $"ALTER TABLE {qualifiedTarget} ENABLE ROW LEVEL SECURITY;\n" : "")
            + (force ? $"ALTER TABLE {qualifiedTarget} FORCE ROW LEVEL SECURITY;\n" : "");
        if (sql.Length > 0)
        {
            await using var alter = new NpgsqlCommand(sql, connection, transaction);
            await alter.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }
    }
}
