using System;
using StackExchange.Redis;

namespace ScaleOps.Internal;

/// <summary>
/// Which Redis error replies say the server cannot serve now (an outage: breakers count them) rather than that one
/// command or key is wrong (<c>WRONGTYPE</c> because another application wrote a hash at a key, a script error, a
/// non-integer counter): those fail only their own call. One list, compiled into ScaleOps.Caching and
/// ScaleOps.Resilience (<c>TransientFailures</c>).
/// </summary>
internal static class RedisErrorReplies
{
    /// <summary>
    /// Whether the reply names a condition of the server as a whole: <c>LOADING</c> (a restart reading its data),
    /// <c>BUSY</c> (a long script), <c>MASTERDOWN</c>, <c>CLUSTERDOWN</c>, <c>TRYAGAIN</c> (a slot migrating),
    /// <c>READONLY</c> (a demoted primary) and <c>OOM</c> (maxmemory reached).
    /// </summary>
    /// <param name="exception">The error reply.</param>
    /// <returns><see langword="true"/> for a server-wide condition, <see langword="false"/> for an error about the command.</returns>
    public static bool IsServerWide(RedisServerException exception)
    {
        var message = exception.Message;
        return message.StartsWith("LOADING", StringComparison.Ordinal)
            || message.StartsWith("BUSY", StringComparison.Ordinal)
            || message.StartsWith("TRYAGAIN", StringComparison.Ordinal)
            || message.StartsWith("CLUSTERDOWN", StringComparison.Ordinal)
            || message.StartsWith("MASTERDOWN", StringComparison.Ordinal)
            || message.StartsWith("READONLY", StringComparison.Ordinal)
            || message.StartsWith("OOM", StringComparison.Ordinal);
    }

    /// <summary>Whether <paramref name="exception"/> is an error reply about the command or its key, not about the server.</summary>
    /// <param name="exception">A failure of a Redis call.</param>
    /// <returns><see langword="true"/> for a <see cref="RedisServerException"/> that <see cref="IsServerWide"/> does not name.</returns>
    public static bool IsAboutTheCommand(Exception exception) => exception is RedisServerException reply && !IsServerWide(reply);
}
