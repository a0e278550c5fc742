using System;
using System.Threading;
using System.Threading.Tasks;
using Microsoft.Extensions.Logging;
using ScaleOps.Internal;
using StackExchange.Redis;

namespace ScaleOps.Caching.Internal.L2;

/// <summary>
/// Redis' clock as this host sees it: the host's <see cref="TimeProvider.GetUtcNow"/> plus an offset measured with
/// Redis' <c>TIME</c>, so that the fresh-until a writer stamps on a value and the one every reader compares it with are
/// on one clock whatever the hosts' clocks say. Reading it costs one field more than the host's clock; Redis is asked
/// only when the connection is made or restored and every 5 minutes after that, in the background.
/// </summary>
/// <remarks>
/// A measurement sends <c>TIME</c> three times and keeps the sample with the shortest round trip: the
/// offset is Redis' time minus the middle of the host's send and receive times, wrong by at most half that round trip
/// (plus the drift between the two clocks until the next measurement). Before the first measurement that succeeds the
/// offset is 0 (the host's clock); a failed one keeps the last offset. Neither blocks nor fails a cache call. On a Redis
/// Cluster the <c>TIME</c> of whichever node the client picks is taken: the nodes' clocks are assumed to agree. The
/// offset's bookkeeping is <c>ClockOffset</c>, shared with ScaleOps.Core's <c>DatabaseClock</c>.
/// </remarks>
internal sealed class RedisClock
{
    private readonly TimeProvider _time;
    private readonly bool _measure;
    private readonly ClockOffset _offset;
    private ConnectionMultiplexer? _multiplexer;

    /// <param name="time">The host's clock.</param>
    /// <param name="logger">Where an offset of a second or more is reported (event 5015), once per change of that size.</param>
    /// <param name="retryInterval">How soon a measurement is tried again while none has succeeded yet.</param>
    /// <param name="measure">
    /// <see langword="false"/>: the offset stays 0 and Redis is never asked (a host clock other than the system's: a
    /// test's, taken as Redis' clock as it is).
    /// </param>
    public RedisClock(TimeProvider time, ILogger logger, TimeSpan retryInterval, bool measure = true)
    {
        _time = time;
        _measure = measure;
        _offset = new ClockOffset(time, retryInterval, offsetMs => Log.ClockOffRedis(logger, offsetMs));
    }

    /// <summary>Redis' time minus the host's, in milliseconds (0 until a measurement succeeds).</summary>
    public long OffsetMs => _offset.OffsetTicks / TimeSpan.TicksPerMillisecond;

    /// <summary>Whether a measurement has succeeded.</summary>
    public bool IsMeasured => _offset.IsMeasured;

    /// <summary>Redis' estimated time now, as Unix milliseconds.</summary>
    /// <returns>The host's time plus the offset.</returns>
    public long NowUnixMs() => _time.GetUtcNow().ToUnixTimeMilliseconds() + (_offset.OffsetTicks / TimeSpan.TicksPerMillisecond);

    /// <summary>The connection was made: measure at once (the connection's task includes this first measurement).</summary>
    /// <param name="multiplexer">The client.</param>
    /// <returns>The measurement; it never throws.</returns>
    public Task AttachAsync(ConnectionMultiplexer multiplexer)
    {
        Volatile.Write(ref _multiplexer, multiplexer);
        return MeasureAsync();
    }

    /// <summary>Starts a measurement in the background when the last one is old enough (or failed long enough ago).</summary>
    public void RefreshIfDue()
    {
        if (_measure && _offset.IsDue())
        {
            _ = MeasureAsync();
        }
    }

    /// <summary>
    /// Measures now unless a measurement is running (single flight). Redis coming back after an outage calls it: the
    /// server that answers may not be the one measured before (a failover).
    /// </summary>
    /// <returns>The measurement, or a completed task when one is already running; it never throws.</returns>
    public async Task MeasureAsync()
    {
        if (!_measure || Volatile.Read(ref _multiplexer) is not { } multiplexer || !_offset.TryBegin())
        {
            return;
        }

        try
        {
            await _offset.SampleAsync(multiplexer.GetDatabase(), static async db =>
                TryReadTime(await db.ExecuteAsync("TIME").ConfigureAwait(false), out var now) ? now : (DateTimeOffset?)null).ConfigureAwait(false);
        }
        catch (Exception)
        {
            // Any failure (Redis down or slow, TIME refused or disabled, the client disposed) keeps the last offset, or
            // the samples taken before it: the next refresh, or Redis coming back, measures again. Never a caller's error.
        }
        finally
        {
            _offset.End();
        }
    }

    /// <summary>Reads <c>TIME</c>'s reply: seconds and microseconds since the Unix epoch.</summary>
    private static bool TryReadTime(RedisResult reply, out DateTimeOffset time)
    {
        time = default;
        if (reply.Resp2Type != ResultType.Array || reply.Length != 2
            || !long.TryParse((string?)reply[0], System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var seconds)
            || !long.TryParse((string?)reply[1], System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var micros))
        {
            return false;
        }

        time = DateTimeOffset.UnixEpoch.AddTicks((seconds * TimeSpan.TicksPerSecond) + (micros * 10));
        return true;
    }
}

/// <summary>
/// Test seam: registered in the service collection, the cache measures the offset to Redis' clock although the host's
/// <see cref="TimeProvider"/> is not <see cref="TimeProvider.System"/> (a test's clock running in real time, some
/// minutes off). Without it, a host clock other than the system's is taken as Redis' clock (offset 0, never measured):
/// a fake clock that a test moves by hours would otherwise be "corrected" back to Redis' time at the next measurement.
/// </summary>
internal sealed class MeasuredRedisClock;
