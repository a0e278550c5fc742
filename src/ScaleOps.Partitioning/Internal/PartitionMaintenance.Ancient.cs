using System;
using System.Collections.Generic;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using Npgsql;

namespace ScaleOps.Partitioning.Internal;

internal sealed partial class PartitionMaintenance
{
    /// <summary>
    /// The report for rows of the default partition in periods before <see cref="ManagedTable.OldestPeriod"/>: moved
    /// out, each such period got a partition of its own (scattered bad dates, one partition per distinct period however
    /// far back, each adding to the planning of every query). Names the count, the oldest value, the partitions they
    /// would need and the setting to raise.
    /// </summary>
    private async Task<InvalidOperationException> TooOldAsync(Resolved resolved, string qualifiedDefault, List<(DateTime Start, long Rows)> old,
        DateTime oldest, CancellationToken cancellationToken)
    {
        var table = resolved.Table;
        var bound = PartitionPeriods.Literal(oldest, resolved.KeyType);
        await using var batch = dataSource.CreateBatch();
        batch.BatchCommands.Add(new NpgsqlBatchCommand("SELECT pg_catalog.set_config('row_security', 'off', true)"));
        batch.BatchCommands.Add(new NpgsqlBatchCommand(
            $"SELECT min({table.QuotedColumn}) FROM {qualifiedDefault} WHERE {PartitionPeriods.PlaceableSql(table.QuotedColumn, resolved.KeyType)}"));
        DateTime? value;
        await using (var reader = await batch.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false))
        {
            await reader.NextResultAsync(cancellationToken).ConfigureAwait(false);
            await reader.ReadAsync(cancellationToken).ConfigureAwait(false);
            value = reader.IsDBNull(0) ? null : reader.GetDateTime(0); // a date reads as DateTime this way too
        }

        var first = value is { } d ? PartitionPeriods.Literal(DateTime.SpecifyKind(d, DateTimeKind.Utc), resolved.KeyType) : "(none left)";
        var needed = PartitionPeriods.Count(table.Interval, old.Min(o => o.Start), PartitionPeriods.Floor(table.Interval, clock.GetUtcNow().UtcDateTime));
        return new InvalidOperationException(
            $"{table.SettingPath}: {old.Sum(o => o.Rows)} rows of {qualifiedDefault} have a {table.QuotedColumn} before {bound}, more than "
            + $"{table.MaxPastPeriodsText}, the oldest {first}; they stay in the default partition of {table.Qualified}. Moving them out "
            + $"would make {old.Count} partitions (one per period that holds them), each adding to the planning of every query on the table. "
            + $"Correct or delete them, or raise {table.SettingPath}:MaxPastPeriods to at least {needed}.");
    }
}
