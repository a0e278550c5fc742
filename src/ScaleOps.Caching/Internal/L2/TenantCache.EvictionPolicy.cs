using System;
using System.Threading;
using System.Threading.Tasks;
using StackExchange.Redis;

namespace ScaleOps.Caching.Internal;

/// <summary>
/// A tenant's generation key has no expiry (it must outlive every entry written under an older generation). A Redis
/// whose <c>maxmemory-policy</c> may evict any key (<c>allkeys-lru</c>, <c>allkeys-lfu</c>, <c>allkeys-random</c>) can
/// drop it under memory pressure, and the entries a tenant invalidation retired would be read again: once connected, the
/// cache reads the policy and warns (5011). Read with <c>INFO memory</c> inside a script, since StackExchange.Redis
/// sends <c>INFO</c> and <c>CONFIG</c> only with <c>allowAdmin</c>; on a cluster it reads one primary's.
/// </summary>
internal sealed partial class TenantCache
{
    private const string EvictionPolicyScript =
        "local info = redis.call('INFO', 'memory') return string.match(info, 'maxmemory_policy:([%w%-]+)')";

    private int _evictionPolicyWarned;

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
        if (policy is not null && policy.StartsWith("allkeys-", StringComparison.Ordinal) && Interlocked.Exchange(ref _evictionPolicyWarned, 1) == 0)
        {
            Log.EvictionPolicyMayDropGenerations(_logger, string.Join(", ", db.Multiplexer.GetEndPoints(configuredOnly: true)), policy);
        }

        _evictionPolicyChecked.TrySetResult();
    }
}
