using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.Linq;

namespace ScaleOps.Partitioning.Internal;

/// <summary>
/// Which conditions (a grant maintenance cannot make as its grantor, a partition whose row-level security it cannot
/// bring in step) were reported for each table at its last sync, so that a warning is logged once per partition and
/// condition instead of at every run while it lasts: again when it changes (another key) or after it cleared (a sync
/// that no longer finds it forgets it). The health report is what shows such a condition continuously.
/// </summary>
internal sealed class ReportedConditions
{
    private readonly ConcurrentDictionary<string, HashSet<string>> _byTable = new(StringComparer.Ordinal);

    /// <summary>
    /// Records <paramref name="current"/> as the table's conditions and returns those that were not among its previous
    /// ones, in order. <paramref name="key"/> must name the partition and everything that makes the condition what it is.
    /// </summary>
    public List<T> Fresh<T>(string table, IReadOnlyList<T> current, Func<T, string> key)
    {
        var keys = current.Select(key).ToHashSet(StringComparer.Ordinal);
        var before = _byTable.TryGetValue(table, out var seen) ? seen : [];
        _byTable[table] = keys;
        return [.. current.Where(c => !before.Contains(key(c)))];
    }
}
