using System;
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
/// A measurement sends <c>SELECT clock_timestamp()</c> three times on one connection of the shared
/// <see cref="NpgsqlDataSource"/> and keeps the sample with the shortest round trip: the offset is the database's time
/// minus the middle of the host's send and receive times, wrong by at most half that round trip (plus the drift between
/// the two clocks until the next measurement). Before the first measurement that succeeds the offset is 0 (the host's
/// clock); a failed one keeps the last offset. Neither blocks nor fails a caller. The offset's bookkeeping is
/// <c>ClockOffset</c>, shared with ScaleOps.Caching's estimate of Redis' clock. Registered by <c>AddScaleOps</c>;
/// durations a host measures between its own readings stay on its <see cref="TimeProvider"/>.
/// </remarks>
public sealed class DatabaseClock
{
    /// <summary>How long a measured offset is used before it is measured again.</summary>
    internal static readonly TimeSpan RefreshInterval = ClockOffset.RefreshInterval;

    /// <summary>How soon a measurement is tried again while none has succeeded yet.</summary>
    internal static readonly TimeSpan DefaultRetryInterval = TimeSpan.FromSeconds(10);

    /// <summary>The command timeout of one sample, in seconds (the connection's own timeout bounds opening it).</summary>
    private const int SampleTimeoutSeconds = 5;

    private readonly NpgsqlDataSource? _dataSource;
    private readonly ClockOffset _offset;

    /// <param name="dataSource">The database whose clock is estimated; <see langword="null"/>: the offset stays 0 and the
    /// database is never asked (a host whose TimeProvider is not the system clock, unless <see cref="MeasuredDatabaseClock"/>
    /// is registered).</param>
    /// <param name="time">The host's clock.</param>
    /// <param name="logger">Where an offset of a second or more is reported (event 1004), once per change of that size.</param>
    /// <param name="retryInterval">How soon a measurement is tried again while none has succeeded yet.</param>
    internal DatabaseClock(NpgsqlDataSource? dataSource, TimeProvider time, ILogger logger, TimeSpan? retryInterval = null)
    {
        _dataSource = dataSource;
        _offset = new ClockOffset(time, retryInterval ?? DefaultRetryInterval, offsetMs => Log.ClockOffDatabase(logger, offsetMs));
    }

    /// <summary>The database's time minus the host's (zero until a measurement succeeds).</summary>
    internal TimeSpan Offset => TimeSpan.FromTicks(_offset.OffsetTicks);

    /// <summary>Whether a measurement has succeeded.</summary>
    internal bool IsMeasured => _offset.IsMeasured;

    /// <summary>The database's estimated time now.</summary>
    /// <returns>The host's <see cref="TimeProvider.GetUtcNow"/> plus the measured offset (0 before the first measurement);
    /// starts a measurement in the background when the last one is <see cref="RefreshInterval"/> old.</returns>
    public DateTimeOffset GetUtcNow()
    {
        RefreshIfDue();
        return _offset.Now();
    }

    /// <summary>Starts a measurement in the background when the last one is old enough (or failed long enough ago).</summary>
    internal void RefreshIfDue()
    {
        if (_dataSource is not null && _offset.IsDue())
        {
            _ = MeasureAsync();
        }
    }

    /// <summary>Measures now unless a measurement is running (single flight).</summary>
    /// <returns>The measurement, or a completed task when one is already running; it never throws.</returns>
    internal async Task MeasureAsync()
    {
        if (_dataSource is null || !_offset.TryBegin())
        {
            return;
        }

        try
        {
            await using var connection = await _dataSource.OpenConnectionAsync().ConfigureAwait(false);
            await using var command = new NpgsqlCommand("SELECT clock_timestamp()", connection) { CommandTimeout = SampleTimeoutSeconds };
            await _offset.SampleAsync(command, static async c => await c.ExecuteScalarAsync().ConfigureAwait(false) is DateTime now
                ? new DateTimeOffset(DateTime.SpecifyKind(now, DateTimeKind.Utc))
                : null).ConfigureAwait(false);
        }
        catch (Exception)
        {
            // Any failure (the database down or slow, the data source disposed) keeps the last offset, or the samples
            // taken before it: the next refresh measures again. Never a caller's error.
        }
        finally
        {
            _offset.End();
        }
    }
}
