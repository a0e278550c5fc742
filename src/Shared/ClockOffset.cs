using System;
using System.Threading;
using System.Threading.Tasks;

namespace ScaleOps.Internal;

/// <summary>
/// A server's clock as this host estimates it: the host's <see cref="TimeProvider.GetUtcNow"/> plus an offset measured
/// with the server's own clock, so that a time one host writes and another compares is on one clock whatever the hosts'
/// clocks say. Compiled into ScaleOps.Core (<c>DatabaseClock</c>, PostgreSQL's <c>clock_timestamp()</c>) and
/// ScaleOps.Caching (<c>RedisClock</c>, Redis' <c>TIME</c>), which send the samples; this class keeps the offset.
/// </summary>
/// <remarks>
/// A measurement takes <see cref="Samples"/> round trips and keeps the one with the shortest: the offset is the
/// server's time minus the middle of the host's send and receive times, wrong by at most half that round trip (plus the
/// drift between the two clocks until the next measurement). It is measured again <see cref="RefreshInterval"/> after
/// the last attempt, or a retry interval after a failed first one. Before the first measurement that succeeds the offset
/// is 0 (the host's clock); a failed one keeps the last offset (or the samples taken before it failed). One measurement
/// runs at a time. An offset of <see cref="ReportedOffsetMs"/> or more is reported when first measured and again only
/// once it has moved by that much (not at every refresh).
/// </remarks>
internal sealed class ClockOffset
{
    /// <summary>How long a measured offset is used before it is measured again.</summary>
    public static readonly TimeSpan RefreshInterval = TimeSpan.FromMinutes(5);

    /// <summary>How many round trips one measurement takes (the shortest wins).</summary>
    public const int Samples = 3;

    /// <summary>An offset from which the host's clock is reported as off: far above a measurement's error.</summary>
    public const long ReportedOffsetMs = 1_000;

    private readonly TimeProvider _time;
    private readonly TimeSpan _retryInterval;
    private readonly Action<long> _report;
    private long _offsetTicks;
    private long _reportedOffsetMs;
    private long _lastAttempt;
    private int _measuring;
    private int _measured;
    private TimeSpan _best;
    private long _bestOffsetTicks;

    /// <param name="time">The host's clock.</param>
    /// <param name="retryInterval">How soon a measurement is tried again while none has succeeded yet.</param>
    /// <param name="report">Reports an offset of <see cref="ReportedOffsetMs"/> or more, in milliseconds (a log event).</param>
    public ClockOffset(TimeProvider time, TimeSpan retryInterval, Action<long> report)
    {
        _time = time;
        _retryInterval = retryInterval;
        _report = report;
        _lastAttempt = time.GetTimestamp() - (long)(retryInterval.TotalSeconds * time.TimestampFrequency) - 1; // due at once
    }

    /// <summary>The server's time minus the host's, in ticks (0 until a measurement succeeds).</summary>
    public long OffsetTicks => Volatile.Read(ref _offsetTicks);

    /// <summary>Whether a measurement has succeeded.</summary>
    public bool IsMeasured => Volatile.Read(ref _measured) != 0;

    /// <summary>The server's estimated time now: the host's plus the offset.</summary>
    /// <returns>The estimate.</returns>
    public DateTimeOffset Now() => _time.GetUtcNow().AddTicks(Volatile.Read(ref _offsetTicks));

    /// <summary>Whether a measurement is due (none running, the last attempt old enough).</summary>
    /// <returns>True when the caller should start one.</returns>
    public bool IsDue() =>
        Volatile.Read(ref _measuring) == 0
        && _time.GetElapsedTime(Volatile.Read(ref _lastAttempt)) >= (IsMeasured ? RefreshInterval : _retryInterval);

    /// <summary>Starts a measurement unless one is running (single flight): then call <see cref="SampleAsync{TState}"/>, and <see cref="End"/> in a <c>finally</c>.</summary>
    /// <returns>False when another measurement is running (do nothing more).</returns>
    public bool TryBegin()
    {
        if (Interlocked.CompareExchange(ref _measuring, 1, 0) != 0)
        {
            return false;
        }

        Volatile.Write(ref _lastAttempt, _time.GetTimestamp());
        _best = TimeSpan.MaxValue;
        return true;
    }

    /// <summary>Takes the samples: <paramref name="read"/> is one round trip that returns the server's time (null: not a time).</summary>
    /// <typeparam name="TState">What <paramref name="read"/> needs (a command, a database).</typeparam>
    /// <param name="state">Passed to <paramref name="read"/>.</param>
    /// <param name="read">One round trip; its exception ends the measurement (the samples before it count).</param>
    /// <returns>A task.</returns>
    public async Task SampleAsync<TState>(TState state, Func<TState, Task<DateTimeOffset?>> read)
    {
        for (var i = 0; i < Samples; i++)
        {
            var sentAt = _time.GetUtcNow();
            var sent = _time.GetTimestamp();
            var serverNow = await read(state).ConfigureAwait(false);
            var roundTrip = _time.GetElapsedTime(sent);
            if (roundTrip < _best && serverNow is { } server)
            {
                _best = roundTrip;
                _bestOffsetTicks = (server - (sentAt + (roundTrip / 2))).Ticks;
            }
        }
    }

    /// <summary>Ends the measurement: keeps the best sample's offset, if any, and reports it when due.</summary>
    public void End()
    {
        if (_best != TimeSpan.MaxValue)
        {
            Volatile.Write(ref _offsetTicks, _bestOffsetTicks);
            Volatile.Write(ref _measured, 1);
            Report(_bestOffsetTicks / TimeSpan.TicksPerMillisecond);
        }

        Volatile.Write(ref _measuring, 0);
    }

    private void Report(long offsetMs)
    {
        if (Math.Abs(offsetMs) >= ReportedOffsetMs && Math.Abs(offsetMs - _reportedOffsetMs) >= ReportedOffsetMs)
        {
            _report(offsetMs);
            _reportedOffsetMs = offsetMs;
        }
        else if (Math.Abs(offsetMs) < ReportedOffsetMs)
        {
            _reportedOffsetMs = 0;
        }
    }
}
