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
/// one DDL transaction (with the runner's lock timeout and retries) that reads the catalog and plans each partition, then,
/// unless it is a dry run or nothing differs, runs the changed partitions' statements in one step span.
/// </summary>
internal static class PartitionSyncStep
{
    /// <summary>Runs the step; returns every partition's plan (those with statements were, or in a dry run would be, changed).</summary>
    public static Task<List<TPlan>> RunAsync<TPlan>(
        DdlRunner ddl,
        ManagedTable table,
        string what,
        PartitionActionKind kind,
        bool dryRun,
        Func<NpgsqlConnection, NpgsqlTransaction, Task<List<TPlan>>> plan,
        Func<TPlan, (string? Partition, List<string> Statements)> changes,
        CancellationToken cancellationToken) =>
        ddl.RunAsync(what, async (connection, transaction) =>
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
        }, cancellationToken);
}
