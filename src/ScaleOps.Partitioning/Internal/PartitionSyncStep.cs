using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using Npgsql;
using ScaleOps.Diagnostics;
using ScaleOps.Partitioning.Lifecycle;

namespace ScaleOps.Partitioning.Internal;

/// <summary>
/// The shape shared by the steps that keep a table's partitions in step with the parent (grants, row-level security):
/// a plain read of the catalog that plans each partition first; only when something differs (and it is not a dry run), one
/// DDL transaction (with the runner's lock timeout and retries) that reads and plans again and runs the changed
/// partitions' statements in one step span.
/// </summary>
/// <remarks>
/// The plain read first: in the steady state nothing differs, and each maintenance run opened two DDL transactions per
/// table (grants, row-level security) only to read. "Maintenance with nothing to do" took 1.3-1.5x pg_partman's
/// <c>run_maintenance</c> time on 500,000 rows with them, 0.9-1.0x before they were added (benchmarks/partitioning,
/// <c>--only m</c>).
/// </remarks>
internal static class PartitionSyncStep
{
    /// <summary>
    /// Runs the step; returns every partition's plan (those with statements were, or in a dry run would be, changed).
    /// Given <c>read</c>, the plans of a plain read the caller made already (maintenance reads both steps' catalogs in
    /// one round trip), the step's own plain read is skipped.
    /// </summary>
    public static async Task<List<TPlan>> RunAsync<TPlan>(
        NpgsqlDataSource dataSource,
        DdlRunner ddl,
        ManagedTable table,
        string what,
        PartitionActionKind kind,
        bool dryRun,
        Func<NpgsqlConnection, NpgsqlTransaction?, Task<List<TPlan>>> plan,
        Func<TPlan, (string? Partition, List<string> Statements)> changes,
        CancellationToken cancellationToken,
        List<TPlan>? read = null)
    {
        if (read is null)
        {
            await using var connection = await dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
            read = await plan(connection, null).ConfigureAwait(false);
        }

        if (dryRun || read.Select(changes).All(c => c.Statements.Count == 0))
        {
            return read;
        }

        return await ddl.RunAsync(what, async (connection, transaction) =>
        {
            var plans = await plan(connection, transaction).ConfigureAwait(false);
            var changed = plans.Select(changes).Where(c => c.Statements.Count > 0).ToList();
            if (dryRun || changed.Count == 0)
            {
                return plans;
            }

            using var step = ScaleOpsDiagnostics.ActivitySource.StartActivity("ScaleOps.Partitioning.Step");
            step?.SetTag("scaleops.partitioning.table", table.Qualified);
            step?.SetTag("scaleops.partitioning.partition", string.Join(", ", changed.Select(c => c.Partition)));
            step?.SetTag("scaleops.partitioning.step", kind.ToString());
            try
            {
                await PartitionAccess.ExecuteAsync(connection, transaction, [.. changed.SelectMany(c => c.Statements)], cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex)
            {
                step?.SetStatus(ActivityStatusCode.Error, ex.Message);
                throw;
            }

            return plans;
        }, cancellationToken).ConfigureAwait(false);
    }
}
