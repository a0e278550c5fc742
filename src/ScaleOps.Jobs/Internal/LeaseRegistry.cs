using System.Collections.Concurrent;
using System.Collections.Generic;

namespace ScaleOps.Jobs.Internal;

/// <summary>
/// The jobs this host holds, from their fetch (or started insert) until their outcome is written: heartbeats renew their
/// leases and cancel the runs of those they lost; a stopping worker gives back what is left.
/// </summary>
internal sealed class LeaseRegistry
{
    /// <summary>By lease, not by job: a job rescued from a run here may run here again while the first run goes on.</summary>
    private readonly ConcurrentDictionary<LeaseToken, FetchedJob> _held = new();

    public int Count => _held.Count;

    public void Add(FetchedJob job) => _held[new LeaseToken(job.Id, job.LeaseId)] = job;

    public void Remove(LeaseToken token) => _held.TryRemove(token, out _);

    /// <summary>
    /// A heartbeat renewed nothing for <paramref name="token"/>: the job was rescued or given back. If its attempt has not
    /// settled yet (no outcome handed to the completer, which would otherwise have written it before the heartbeat ran),
    /// the lease leaves the registry and the run's token is cancelled. Returns that job, or null.
    /// </summary>
    public FetchedJob? Lose(LeaseToken token)
    {
        if (!_held.TryGetValue(token, out var job) || job.IsSettled || !_held.TryRemove(new KeyValuePair<LeaseToken, FetchedJob>(token, job)))
        {
            return null;
        }

        job.LoseLease();
        return job;
    }

    /// <summary>
    /// Marks the leases of outcomes in (or out of) the completer's statement, which locks their rows while it runs: the
    /// heartbeat leaves them out meanwhile (<see cref="Snapshot"/>), so it never waits for that statement.
    /// </summary>
    public void SetWriting(List<Completion> batch, bool writing)
    {
        foreach (var c in batch)
        {
            if (_held.TryGetValue(new LeaseToken(c.Id, c.LeaseId), out var job))
            {
                job.Writing = writing;
            }
        }
    }

    /// <summary>The held leases; <paramref name="renewable"/>: only those whose outcome is not being written (the heartbeat's).</summary>
    public List<LeaseToken> Snapshot(bool renewable = false)
    {
        var list = new List<LeaseToken>(_held.Count);
        foreach (var (token, job) in _held)
        {
            if (!renewable || !job.Writing)
            {
                list.Add(token);
            }
        }

        return list;
    }
}
