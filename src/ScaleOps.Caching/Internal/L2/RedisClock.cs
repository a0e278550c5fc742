using System;
using System.Threading;
using System.Threading.Tasks;
using Microsoft.Extensions.Logging;
using StackExchange.Redis;

namespace ScaleOps.Caching.Internal.L2;

/// <summary>
/// Redis' clock as this host sees it: the host's <see cref="TimeProvider.GetUtcNow"/> plus an offset measured with
/// Redis' <c>TIME</c>, so that the fresh-until a writer stamps on a value and the one every reader compares it with are
/// on one clock whatever the hosts' clocks say. Reading it costs one field more than the host's clock; Redis is asked
/// only when the connection is made or restored and every <see cref="RefreshInterval"/> after that, in the background.
/// </summary>
/// <remarks>
/// A measurement sends <c>TIME</c> <see cref="Samples"/> times and keeps the sample with the shortest round trip: the
/// offset is Redis' time minus the middle of the host's send and receive times, wrong by at most half that round trip
/// (plus the drift between the two clocks until the next measurement). Before the first measurement that succeeds the
/// offset is 0 (the host's clock); a failed one keeps the last offset. Neither blocks nor fails a cache call. On a Redis
/// Cluster the <c>TIME</c> of whichever node the client picks is taken: the nodes' clocks are assumed to agree.
/// </remarks>
internal sealed class RedisClock
{
    /// <summary>How long a measured offset is used before it is measured again.</summary>
    public static readonly TimeSpan RefreshInterval = TimeSpan.FromMinutes(5);

    /// <summary>How many <c>TIME</c> round trips one measurement takes (the shortest wins).</summary>
    public const int Samples = 3;

    /// <summary>An offset from which the host's clock is reported as off (event 5015): far above a measurement's error.</summary>
    public const long ReportedOffsetMs = 1_000;

    private readonly ILogger _logger;
    private long _reportedOffsetMs;

    private readonly TimeProvider _time;
    private readonly TimeSpan _retryInterval;
    private readonly bool _measure;
    private ConnectionMultiplexer? _multiplexer;
    private long _offsetMs;
    private long _lastAttempt;
    private int _measuring;
    private int _measured;

    /// <param name="time">The host's clock.</param>
    /// <param name="logger">Where an offset of <see cref="ReportedOffsetMs"/> or more is reported (event 5015), once per
    /// change of that size.</param>
    /// <param name="retryInterval">How soon a measurement is tried again while none has succeeded yet.</param>
    /// <param name="measure">
    /// <see langword="false"/>: the offset stays 0 and Redis is never asked (tests whose instances share one fake clock
    /// and move it to exact boundaries; an offset measured per instance would differ between them by its error).
    /// </param>
    public RedisClock(TimeProvider time, ILogger logger, TimeSpan retryInterval, bool measure = true)
    {
        _time = time;
        _logger = logger;
        _retryInterval = retryInterval;
        _measure = measure;
    }

    /// <summary>Redis' time minus the host's, in milliseconds (0 until a measurement succeeds).</summary>
    public long OffsetMs => Volatile.Read(ref _offsetMs);

    /// <summary>Whether a measurement has succeeded.</summary>
    public bool IsMeasured => Volatile.Read(ref _measured) != 0;

    /// <summary>Redis' estimated time now, as Unix milliseconds.</summary>
    /// <returns>The host's time plus the offset.</returns>
    public long NowUnixMs() => _time.GetUtcNow().ToUnixTimeMilliseconds() + Volatile.Read(ref _offsetMs);

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
        if (!_measure || Volatile.Read(ref _measuring) != 0)
        {
            return;
        }

        var due = IsMeasured ? RefreshInterval : _retryInterval;
        if (_time.GetElapsedTime(Volatile.Read(ref _lastAttempt)) >= due)
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
        if (!_measure || Volatile.Read(ref _multiplexer) is not { } multiplexer || Interlocked.CompareExchange(ref _measuring, 1, 0) != 0)
        {
            return;
        }

        var best = TimeSpan.MaxValue;
        var offsetMs = 0L;
        try
        {
            Volatile.Write(ref _lastAttempt, _time.GetTimestamp());
            var db = multiplexer.GetDatabase();
            for (var i = 0; i < Samples; i++)
            {
                var sentAt = _time.GetUtcNow();
                var sent = _time.GetTimestamp();
                var reply = await db.ExecuteAsync("TIME").ConfigureAwait(false);
                var roundTrip = _time.GetElapsedTime(sent);
                if (roundTrip < best && TryReadTime(reply, out var redisNow))
                {
                    best = roundTrip;
                    offsetMs = (long)Math.Round((redisNow - (sentAt + (roundTrip / 2))).TotalMilliseconds);
                }
            }
        }
        catch (Exception)
        {
            // Any failure (Redis down or slow, TIME refused or disabled, the client disposed) keeps the last offset, or
            // the samples taken before it: the next refresh, or Redis coming back, measures again. Never a caller's error.
        }
        finally
        {
            if (best != TimeSpan.MaxValue)
            {
                Volatile.Write(ref _offsetMs, offsetMs);
                Volatile.Write(ref _measured, 1);
                Report(offsetMs);
            }

            Volatile.Write(ref _measuring, 0);
        }
    }

    /// <summary>
    /// Warns of a host clock off Redis' by <see cref="ReportedOffsetMs"/> or more, when first measured and again when it
    /// has moved by that much since the last warning (not at every refresh). Called by the one measurement running.
    /// </summary>
    private void Report(long offsetMs)
    {
        if (Math.Abs(offsetMs) >= ReportedOffsetMs && Math.Abs(offsetMs - _reportedOffsetMs) >= ReportedOffsetMs)
        {
            Log.ClockOffRedis(_logger, offsetMs);
            _reportedOffsetMs = offsetMs;
        }
        else if (Math.Abs(offsetMs) < ReportedOffsetMs)
        {
            _reportedOffsetMs = 0;
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
