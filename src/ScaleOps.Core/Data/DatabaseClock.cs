using System;
using System.Threading;
using System.Threading.Tasks;
using Microsoft.Extensions.Logging;
using Npgsql;
using ScaleOps.Internal;

namespace ScaleOps.Data;

/// <summary>
/// PostgreSQL's clock as this host estimates it: the host's <see cref="TimeProvider.GetUtcNow"/> plus an offset measured
/// with <c>clock_timestamp()</c>, so that a time one host writes and another compares is on one clock whatever the hosts'
/// clocks say. Reading it costs one field more than the host's clock; the database is asked while the host starts, on
/// first use without a host, and every <see cref="RefreshInterval"/> after that, in the background.
/// </summary>
/// <remarks>
/// A measurement sends <c>SELECT clock_timestamp()</c> <see cref="Samples"/> times on one connection of the shared
/// <see cref="NpgsqlDataSource"/> and keeps the sample with the shortest round trip: the offset is the database's time
/// minus the middle of the host's send and receive times, wrong by at most half that round trip (plus the drift between
/// the two clocks until the next measurement). Before the first measurement that succeeds the offset is 0 (the host's
/// clock); a failed one keeps the last offset. Neither blocks nor fails a caller. Registered by <c>AddScaleOps</c>;
/// durations a host measures between its own readings stay on its <see cref="TimeProvider"/>.
/// </remarks>
public sealed class DatabaseClock
{
    /// <summary>How long a measured offset is used before it is measured again.</summary>
    internal static readonly TimeSpan RefreshInterval = TimeSpan.FromMinutes(5);

    /// <summary>How soon a measurement is tried again while none has succeeded yet.</summary>
    internal static readonly TimeSpan DefaultRetryInterval = TimeSpan.FromSeconds(10);

    /// <summary>How many <c>clock_timestamp()</c> round trips one measurement takes (the shortest wins).</summary>
    internal const int Samples = 3;

    /// <summary>An offset from which the host's clock is reported as off (event 1004): far above a measurement's error.</summary>
    internal const long ReportedOffsetMs = 1_000;

    /// <summary>The command timeout of one sample, in seconds (the connection's own timeout bounds opening it).</summary>
    private const int SampleTimeoutSeconds = 5;

    private readonly NpgsqlDataSource? _dataSource;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly TimeSpan _retryInterval;
    private long _offsetTicks;
    private long _reportedOffsetMs;
    private long _lastAttempt;
    private int _measuring;
    private int _measured;

    /// <param name="dataSource">The database whose clock is estimated; <see langword="null"/>: the offset stays 0 and the
    /// database is never asked (a host whose TimeProvider is not the system clock, unless <see cref="MeasuredDatabaseClock"/>
    /// is registered).</param>
    /// <param name="time">The host's clock.</param>
    /// <param name="logger">Where an offset of <see cref="ReportedOffsetMs"/> or more is reported (event 1004), once per
    /// change of that size.</param>
    /// <param name="retryInterval">How soon a measurement is tried again while none has succeeded yet.</param>
    internal DatabaseClock(NpgsqlDataSource? dataSource, TimeProvider time, ILogger logger, TimeSpan? retryInterval = null)
    {
        _dataSource = dataSource;
        _time = time;
        _logger = logger;
        _retryInterval = retryInterval ?? DefaultRetryInterval;
        _lastAttempt = time.GetTimestamp() - (long)(_retryInterval.TotalSeconds * time.TimestampFrequency) - 1; // due at once
    }

    /// <summary>The database's time minus the host's (zero until a measurement succeeds).</summary>
    internal TimeSpan Offset => TimeSpan.FromTicks(Volatile.Read(ref _offsetTicks));

    /// <summary>Whether a measurement has succeeded.</summary>
    internal bool IsMeasured => Volatile.Read(ref _measured) != 0;

    /// <summary>The database's estimated time now.</summary>
    /// <returns>The host's <see cref="TimeProvider.GetUtcNow"/> plus the measured offset (0 before the first measurement);
    /// starts a measurement in the background when the last one is <see cref="RefreshInterval"/> old.</returns>
    public DateTimeOffset GetUtcNow()
    {
        RefreshIfDue();
        return _time.GetUtcNow().AddTicks(Volatile.Read(ref _offsetTicks));
    }

    /// <summary>Starts a measurement in the background when the last one is old enough (or failed long enough ago).</summary>
    internal void RefreshIfDue()
    {
        if (_dataSource is null || Volatile.Read(ref _measuring) != 0)
        {
            return;
        }

        var due = IsMeasured ? RefreshInterval : _retryInterval;
        if (_time.GetElapsedTime(Volatile.Read(ref _lastAttempt)) >= due)
        {
            _ = MeasureAsync();
        }
    }

    /// <summary>Measures now unless a measurement is running (single flight).</summary>
    /// <returns>The measurement, or a completed task when one is already running; it never throws.</returns>
    internal async Task MeasureAsync()
    {
        if (_dataSource is null || Interlocked.CompareExchange(ref _measuring, 1, 0) != 0)
        {
            return;
        }

        var best = TimeSpan.MaxValue;
        var offsetTicks = 0L;
        try
        {
            Volatile.Write(ref _lastAttempt, _time.GetTimestamp());
            await using var connection = await _dataSource.OpenConnectionAsync().ConfigureAwait(false);
            await using var command = new NpgsqlCommand("SELECT clock_timestamp()", connection) { CommandTimeout = SampleTimeoutSeconds };
            for (var i = 0; i < Samples; i++)
            {
                var sentAt = _time.GetUtcNow();
                var sent = _time.GetTimestamp();
                var reply = await command.ExecuteScalarAsync().ConfigureAwait(false);
                var roundTrip = _time.GetElapsedTime(sent);
                if (roundTrip < best && reply is DateTime databaseNow)
                {
                    best = roundTrip;
                    offsetTicks = (new DateTimeOffset(DateTime.SpecifyKind(databaseNow, DateTimeKind.Utc)) - (sentAt + (roundTrip / 2))).Ticks;
                }
            }
        }
        catch (Exception)
        {
            // Any failure (the database down or slow, the data source disposed) keeps the last offset, or the samples
            // taken before it: the next refresh measures again. Never a caller's error.
        }
        finally
        {
            if (best != TimeSpan.MaxValue)
            {
                Volatile.Write(ref _offsetTicks, offsetTicks);
                Volatile.Write(ref _measured, 1);
                Report(offsetTicks / TimeSpan.TicksPerMillisecond);
            }

            Volatile.Write(ref _measuring, 0);
        }
    }

    /// <summary>
    /// Warns of a host clock off the database's by <see cref="ReportedOffsetMs"/> or more, when first measured and again
    /// when it has moved by that much since the last warning (not at every refresh). Called by the one measurement running.
    /// </summary>
    private void Report(long offsetMs)
    {
        if (Math.Abs(offsetMs) >= ReportedOffsetMs && Math.Abs(offsetMs - _reportedOffsetMs) >= ReportedOffsetMs)
        {
            Log.ClockOffDatabase(_logger, offsetMs);
            _reportedOffsetMs = offsetMs;
        }
        else if (Math.Abs(offsetMs) < ReportedOffsetMs)
        {
            _reportedOffsetMs = 0;
        }
    }
}
