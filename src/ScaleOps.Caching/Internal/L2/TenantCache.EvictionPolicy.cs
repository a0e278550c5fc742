using System;
using System.Threading;
using System.Threading.Tasks;
using StackExchange.Redis;

namespace ScaleOps.Caching.Internal;

/// <summary>
/// A Redis whose <c>maxmemory-policy</c> evicts keys (any policy but <c>noeviction</c>) may drop a tag's index under
/// memory pressure, and a tag removal then misses the values it listed until they expire. (A generation key evicted is
/// harmless: the next read starts a new epoch, <c>Lua/generation.lua</c>.) Once connected, the cache reads the policy;
/// it warns (5011) once a tag is used, so services without tags are not told about a risk they do not run. Read with
/// <c>INFO memory</c> inside a script, since StackExchange.Redis sends <c>INFO</c> and <c>CONFIG</c> only with
/// <c>allowAdmin</c>; on a cluster it reads one primary's.
/// </summary>
internal sealed partial class TenantCache
{
    private const string EvictionPolicyScript =
        "local info = redis.call('INFO', 'memory') return string.match(info, 'maxmemory_policy:([%w%-]+)')";

    private int _evictionPolicyWarned;

    private int _tagsUsed;

    /// <summary>The policy read, when it evicts keys (with the endpoints, for the warning); null otherwise or unknown.</summary>
    private Tuple<string, string>? _evictingPolicy;

    private readonly TaskCompletionSource _evictionPolicyChecked = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Completes once the eviction policy was read, or Redis refused to say it (tests wait on it).</summary>
    internal Task EvictionPolicyChecked => _evictionPolicyChecked.Task;

    private void CheckEvictionPolicy(IConnectionMultiplexer multiplexer)
    {
        if (!_evictionPolicyChecked.Task.IsCompleted && multiplexer.IsConnected)
        {
            _ = CheckEvictionPolicyAsync(multiplexer.GetDatabase());
        }
    }

    /// <summary>After Redis came back: the check, if Redis could not be read when the cache connected.</summary>
    private void CheckEvictionPolicyOnRestore(string trigger)
    {
        if (!_evictionPolicyChecked.Task.IsCompleted && _redis.TryGetReadyDatabase() is { } db)
        {
            _ = CheckEvictionPolicyAsync(db);
        }
    }

    private async Task CheckEvictionPolicyAsync(IDatabase db)
    {
        string? policy;
        try
        {
            policy = (string?)await db.ScriptEvaluateAsync(EvictionPolicyScript).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is RedisServerException or RedisCommandException)
        {
            _evictionPolicyChecked.TrySetResult(); // scripts or INFO refused here: nothing to say, and no point asking again
            return;
        }
        catch (Exception ex) when (ex is RedisException or TimeoutException)
        {
            return; // not connected after all: the next restore asks again; caching does not depend on it
        }

        // Logged before the check completes (a test reads the log once it has), and once however many checks ran.
        if (policy is not null && !string.Equals(policy, "noeviction", StringComparison.Ordinal))
        {
            // A full fence each side (here and in OnTagUsed), so whichever comes second sees the other and warns.
            Interlocked.Exchange(ref _evictingPolicy, Tuple.Create(policy, string.Join(", ", db.Multiplexer.GetEndPoints(configuredOnly: true))));
            WarnIfTagIndexesMayBeEvicted();
        }

        _evictionPolicyChecked.TrySetResult();
    }

    /// <summary>A tag is written or removed: the warning, if the policy evicts keys (at most once per instance).</summary>
    private void OnTagUsed()
    {
        if (Volatile.Read(ref _tagsUsed) == 0 && Interlocked.Exchange(ref _tagsUsed, 1) == 0)
        {
            WarnIfTagIndexesMayBeEvicted();
        }
    }

    private void WarnIfTagIndexesMayBeEvicted()
    {
        if (Volatile.Read(ref _tagsUsed) == 1 && Volatile.Read(ref _evictingPolicy) is { } evicting && Interlocked.Exchange(ref _evictionPolicyWarned, 1) == 0)
        {
            Log.EvictionPolicyMayDropTagIndexes(_logger, evicting.Item2, evicting.Item1);
        }
    }
}
