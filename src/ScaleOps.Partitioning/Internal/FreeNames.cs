using System;
using System.Collections.Generic;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using ScaleOps.Partitioning.Lifecycle;

namespace ScaleOps.Partitioning.Internal;

/// <summary>
/// Names for new partitions of a table that no relation or type of its schema has, nor any of its template indexes: a
/// table that RetentionMode.Detach kept under its partition's name, or a user's own table named like a partition, made
/// the partition of that period fail with 42P07 (at every maintenance run, or halfway through a conversion).
/// </summary>
internal sealed class FreeNames
{
    private readonly ManagedTable _table;
    private readonly HashSet<string> _taken;

    private FreeNames(ManagedTable table, HashSet<string> taken)
    {
        _table = table;
        _taken = taken;
    }

    /// <summary>Reads the names taken in the table's schema (those its partitions' names can begin with), plus its partitions'.</summary>
    public static async Task<FreeNames> ReadAsync(PartitionStore store, ManagedTable table, IEnumerable<PartitionInfo> partitions, CancellationToken cancellationToken)
    {
        var taken = partitions.Where(table.InOwnSchema).Select(p => p.Name).ToHashSet(StringComparer.Ordinal);
        taken.UnionWith(await store.RelationNamesAsync(table.Options.Schema, PartitionPeriods.Cut(table.Options.Name, PartitionPeriods.SharedPrefixBytes),
            cancellationToken).ConfigureAwait(false));
        return new FreeNames(table, taken);
    }

    /// <summary>
    /// The first free name for (a part of) the period starting at <paramref name="start"/>, from <paramref name="index"/>
    /// on: the period's own name, then <c>_2</c>, <c>_3</c>... It is taken from then on.
    /// </summary>
    public string Next(DateTime start, ref int index)
    {
        string name;
        do
        {
            name = _table.GapName(start, index++);
        }
        while (_taken.Contains(name) || _table.Indexes.Any(i => _taken.Contains(PartitionPeriods.IndexName(name, i.Suffix))));

        _taken.Add(name);
        return name;
    }

    /// <summary>The first free name for the whole period starting at <paramref name="start"/>.</summary>
    public string Next(DateTime start)
    {
        var index = 0;
        return Next(start, ref index);
    }

    /// <summary>Marks names as taken (planned, not created yet).</summary>
    public void Take(IEnumerable<string> names) => _taken.UnionWith(names);
}
