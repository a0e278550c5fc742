using System.Collections.Concurrent;
using System.Collections.Generic;

namespace ScaleOps.Jobs.Internal;

/// <summary>The jobs this host is running: heartbeats renew their leases; a stopping worker gives back what is left.</summary>
internal sealed class LeaseRegistry
{
    private readonly ConcurrentDictionary<long, long> _held = new();

    public int Count => _held.Count;

    public void Add(LeaseToken token) => _held[token.Id] = token.LeaseId;

    public void Remove(LeaseToken token) => _held.TryRemove(new KeyValuePair<long, long>(token.Id, token.LeaseId));

    public List<LeaseToken> Snapshot()
    {
        var list = new List<LeaseToken>(_held.Count);
        foreach (var (id, leaseId) in _held)
        {
            list.Add(new LeaseToken(id, leaseId));
        }

        return list;
    }
}
