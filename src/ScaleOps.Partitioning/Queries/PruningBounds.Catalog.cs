using System;
using System.Collections.Generic;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using Npgsql;
using ScaleOps.Data;
using ScaleOps.Partitioning.Internal;
using ScaleOps.Partitioning.Lifecycle;

namespace ScaleOps.Partitioning.Queries;

public static partial class PruningBounds
{
    /// <summary>
    /// The partitions of <paramref name="schema"/>.<paramref name="parent"/> that can hold rows of <c>[from, to)</c>,
    /// read from the catalog with their real bounds, newest first, each schema-qualified and quoted (ready for
    /// <c>SELECT ... FROM {name}</c>, <c>UNION ALL</c> for several): partitions of any width and name (those of another
    /// interval, the rest of a period made under a <c>_2</c> name, a split partition, one attached from another schema),
    /// and the default partition, last, when the range is not wholly covered by the others. A query on one partition
    /// pays no partitioning overhead (no partition planning, locking or run-time pruning). One catalog read per call, not
    /// cached: a stale list is what misses rows (a period moved out of the default partition into a new one). The list
    /// is as of the read; a partition dropped or detached since no longer exists (42P01).
    /// </summary>
    /// <param name="dataSource">Where the table is.</param>
    /// <param name="schema">The table's schema.</param>
    /// <param name="parent">The partitioned table's name.</param>
    /// <param name="from">The inclusive start (UTC).</param>
    /// <param name="to">The exclusive end (UTC); after <paramref name="from"/>.</param>
    /// <param name="cancellationToken">Cancels the read.</param>
    /// <returns>The partitions, newest first (by lower bound), the default partition last.</returns>
    /// <exception cref="ArgumentException">A name is empty or <paramref name="to"/> is not after <paramref name="from"/>.</exception>
    /// <exception cref="InvalidOperationException">The table does not exist, or is not partitioned by range on one column.</exception>
    /// <exception cref="FormatException">A partition's bound is not a date or time.</exception>
    public static async Task<IReadOnlyList<string>> PartitionsAsync(NpgsqlDataSource dataSource, string schema, string parent, DateTime from, DateTime to,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(dataSource);
        ArgumentException.ThrowIfNullOrEmpty(schema);
        ArgumentException.ThrowIfNullOrEmpty(parent);
        (from, to) = (Utc(from), Utc(to));
        if (to <= from)
        {
            throw new ArgumentException($"The range end {to:O} is not after its start {from:O}.", nameof(to));
        }

        var qualified = SqlIdentifier.Qualify(schema, parent);
        var partitions = new List<PartitionInfo>();
        await using (var connection = await dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false))
        await using (var transaction = await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false))
        await using (var batch = new NpgsqlBatch(connection, transaction))
        {
            // Bounds print as '2026-11-01 00:00:00+00' whatever the database's DateStyle and TimeZone (PartitionPeriods).
            foreach (var setting in PartitionPeriods.IsoSessionSql.Split(';', StringSplitOptions.TrimEntries))
            {
                batch.BatchCommands.Add(new NpgsqlBatchCommand(setting));
            }

            batch.BatchCommands.Add(new NpgsqlBatchCommand(Sql.PartitionBounds) { Parameters = { new NpgsqlParameter<string> { TypedValue = qualified } } });
            await using var reader = await batch.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            var found = false;
            while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                if (!found && (reader.GetString(0) != "r" || reader.GetInt32(1) != 1))
                {
                    throw new InvalidOperationException($"{qualified} is not partitioned by range on one column: its partitions have no time bounds to list.");
                }

                found = true;
                if (!reader.IsDBNull(3))
                {
                    var (start, end, isDefault) = PartitionStore.Bounds(reader.GetString(4), reader.GetString(3));
                    partitions.Add(new PartitionInfo(reader.GetString(2), reader.GetString(3), start, end, isDefault, 0, 0));
                }
            }

            if (!found)
            {
                throw new InvalidOperationException($"{qualified} does not exist or is not a partitioned table.");
            }
        }

        var names = partitions.Where(p => !p.IsDefault && (p.From ?? DateTime.MinValue) < to && (p.To ?? DateTime.MaxValue) > from)
            .OrderByDescending(p => p.From ?? DateTime.MinValue)
            .Select(ManagedTable.QualifyPartition)
            .ToList();
        if (partitions.FirstOrDefault(p => p.IsDefault) is { } defaultPartition && ManagedTable.Gaps(partitions, from, to).Count > 0)
        {
            names.Add(ManagedTable.QualifyPartition(defaultPartition)); // the range's uncovered rows are there
        }

        return names;
    }
}
