using System;
using System.Threading;
using System.Threading.Tasks;
using Microsoft.Extensions.Logging;
using StackExchange.Redis;

namespace ScaleOps.Caching.Internal.L2;

/// <summary>
/// The one Redis connection of the cache, with fast-fail client settings and a circuit breaker: after an error the
/// cache skips Redis for <see cref="CachingOptions.BreakerDuration"/>, then lets one probe through. Raises
/// <see cref="Restored"/> when Redis becomes usable again after being unavailable.
/// </summary>
internal sealed class RedisConnection : IAsyncDisposable, IDisposable
{
    private readonly CachingOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly Lazy<Task<ConnectionMultiplexer>> _connect;
    private readonly long _breakerTicks;
    private long _openUntil;
    private int _unavailable;
    private int _probing;
    private long _probeStarted;
    private int _disconnected;
    private string? _lastError;

    /// <param name="options">The cache's options.</param>
    /// <param name="time">The host's clock.</param>
    /// <param name="logger">The cache's logger.</param>
    /// <param name="measureClock">Whether <see cref="Clock"/> measures Redis' time (false: the host's clock, a test seam).</param>
    public RedisConnection(CachingOptions options, TimeProvider time, ILogger logger, bool measureClock = true)
    {
        _options = options;
        _time = time;
        _logger = logger;
        Clock = new RedisClock(time, logger, options.BreakerDuration, measureClock);
        _breakerTicks = (long)(options.BreakerDuration.TotalSeconds * time.TimestampFrequency);
        _connect = new Lazy<Task<ConnectionMultiplexer>>(ConnectAsync, LazyThreadSafetyMode.ExecutionAndPublication);
    }

    /// <summary>Redis is usable again after an outage (reconnected, or a probe succeeded).</summary>
    public event Action<string>? Restored;

    /// <summary>
    /// Redis became unavailable (the breaker opened after being closed): the maintenance loop, which may be waiting a
    /// whole sweep interval, must start probing once per breaker period.
    /// </summary>
    public event Action? Unavailable;

    /// <summary>The multiplexer was created (subscribe the backplane here).</summary>
    public event Action<ConnectionMultiplexer>? Connected;

    public bool IsAvailable => Volatile.Read(ref _unavailable) == 0;

    /// <summary>Redis' clock, estimated from the host's: fresh-until times are written and compared on it.</summary>
    public RedisClock Clock { get; }

    public string? LastError => IsAvailable ? null : Volatile.Read(ref _lastError);

    public DateTimeOffset? OpenUntil
    {
        get
        {
            if (IsAvailable)
            {
                return null;
            }

            var remaining = Volatile.Read(ref _openUntil) - _time.GetTimestamp();
            return _time.GetUtcNow() + TimeSpan.FromSeconds(Math.Max(0, remaining) / (double)_time.TimestampFrequency);
        }
    }

    /// <summary>Starts connecting (the hosted service calls this at start-up).</summary>
    /// <returns>The connection attempt.</returns>
    public Task StartAsync() => _connect.Value;

    /// <summary>The database when Redis may be used now, otherwise <see langword="null"/> (without waiting).</summary>
    /// <returns>The database, or null while the breaker is open or the client is disconnected.</returns>
    public ValueTask<IDatabase?> TryGetDatabaseAsync()
    {
        if (Volatile.Read(ref _unavailable) != 0)
        {
            if (_time.GetTimestamp() < Volatile.Read(ref _openUntil) || !TryStartProbe())
            {
                return new ValueTask<IDatabase?>((IDatabase?)null);
            }
        }

        var connecting = _connect.Value;
        return connecting.IsCompletedSuccessfully ? new ValueTask<IDatabase?>(Database(connecting.Result)) : AwaitDatabase(connecting);
    }

    /// <summary>
    /// The database when Redis is connected and the breaker closed, otherwise <see langword="null"/>. Never probes and
    /// never waits: the hit path uses it and leaves every other case to <see cref="TryGetDatabaseAsync"/>.
    /// </summary>
    /// <returns>The database or null.</returns>
    public IDatabase? TryGetReadyDatabase()
    {
        if (Volatile.Read(ref _unavailable) != 0 || !_connect.IsValueCreated)
        {
            return null;
        }

        var connecting = _connect.Value;
        return connecting.IsCompletedSuccessfully && connecting.Result.IsConnected ? connecting.Result.GetDatabase() : null;
    }

    /// <summary>The multiplexer once connected (tests profile the commands the cache sends).</summary>
    internal ConnectionMultiplexer? Multiplexer =>
        _connect.IsValueCreated && _connect.Value.IsCompletedSuccessfully ? _connect.Value.Result : null;

    public void ReportSuccess()
    {
        if (Volatile.Read(ref _unavailable) == 0)
        {
            return;
        }

        Volatile.Write(ref _probing, 0);
        if (Interlocked.Exchange(ref _unavailable, 0) != 0)
        {
            Log.RedisRestored(_logger, "probe succeeded");
            _ = Clock.MeasureAsync(); // the server that answers now may not be the one measured (a failover)
            Restored?.Invoke("probe succeeded");
        }
    }

    public void ReportFailure(string reason)
    {
        Volatile.Write(ref _lastError, reason);
        Volatile.Write(ref _openUntil, _time.GetTimestamp() + _breakerTicks);
        Volatile.Write(ref _probing, 0);
        if (Interlocked.Exchange(ref _unavailable, 1) == 0)
        {
            Log.RedisUnavailable(_logger, reason, _options.BreakerDuration.TotalSeconds);
            Unavailable?.Invoke();
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_connect.IsValueCreated)
        {
            try
            {
                var multiplexer = await _connect.Value.ConfigureAwait(false);
                await multiplexer.DisposeAsync().ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is RedisException or TimeoutException)
            {
                // Nothing to close.
            }
        }
    }

    public void Dispose()
    {
        if (_connect.IsValueCreated && _connect.Value.IsCompletedSuccessfully)
        {
            _connect.Value.Result.Dispose();
        }
    }

    /// <summary>
    /// Lets one caller probe Redis. A probe that never reports (its caller needed no Redis command after all) expires
    /// after one breaker duration, so it cannot keep the cache off Redis for good.
    /// </summary>
    private bool TryStartProbe()
    {
        var now = _time.GetTimestamp();
        if (Interlocked.CompareExchange(ref _probing, 1, 0) == 0)
        {
            Volatile.Write(ref _probeStarted, now);
            return true;
        }

        var started = Volatile.Read(ref _probeStarted);
        return now - started >= _breakerTicks && Interlocked.CompareExchange(ref _probeStarted, now, started) == started;
    }

    private async ValueTask<IDatabase?> AwaitDatabase(Task<ConnectionMultiplexer> connecting)
    {
        try
        {
            return Database(await connecting.ConfigureAwait(false));
        }
        catch (Exception ex) when (ex is RedisException or TimeoutException)
        {
            ReportFailure(ex.Message);
            return null;
        }
    }

    private IDatabase? Database(ConnectionMultiplexer multiplexer)
    {
        if (!multiplexer.IsConnected)
        {
            ReportFailure("not connected");
            return null;
        }

        return multiplexer.GetDatabase();
    }

    /// <summary>
    /// A client connection failed. The interactive and the subscription connection fail and come back separately, so
    /// each is remembered on its own (one bit per <see cref="ConnectionType"/>).
    /// </summary>
    internal void OnConnectionFailed(ConnectionType type, string reason)
    {
        Interlocked.Or(ref _disconnected, Bit(type));
        ReportFailure(reason);
    }

    /// <summary>
    /// A client connection came back. Only a reconnection after a failure counts (a connection opened for the first
    /// time is not a restore), and each connection's own: when the subscription connection comes back after the
    /// interactive one, invalidations published in between were missed, so <see cref="Restored"/> is raised again.
    /// </summary>
    internal void OnConnectionRestored(ConnectionType type, string? endpoint)
    {
        var bit = Bit(type);
        if ((Interlocked.And(ref _disconnected, ~bit) & bit) == 0)
        {
            return;
        }

        Volatile.Write(ref _probing, 0);
        Interlocked.Exchange(ref _unavailable, 0);
        Log.RedisRestored(_logger, $"reconnected to {endpoint} ({type})");
        _ = Clock.MeasureAsync();
        Restored?.Invoke("reconnected");
    }

    private static int Bit(ConnectionType type) => 1 << ((int)type & 15);

    private async Task<ConnectionMultiplexer> ConnectAsync()
    {
        var config = ConfigurationOptions.Parse(_options.RedisConnectionString!);
        var timeout = (int)Math.Ceiling(_options.RedisTimeout.TotalMilliseconds);
        config.AbortOnConnectFail = false;
        config.ConnectTimeout = timeout;
        config.SyncTimeout = timeout;
        config.AsyncTimeout = timeout;
        config.ConnectRetry = 1;
        config.BacklogPolicy = BacklogPolicy.FailFast;
        config.ReconnectRetryPolicy = new LinearRetry(500);
        config.ClientName ??= "scaleops-cache";
        _options.ConfigureRedis?.Invoke(config);

        var multiplexer = await ConnectionMultiplexer.ConnectAsync(config).ConfigureAwait(false);
        multiplexer.ConnectionFailed += (_, e) => OnConnectionFailed(e.ConnectionType, $"{e.FailureType} on {e.EndPoint}");
        multiplexer.ConnectionRestored += (_, e) => OnConnectionRestored(e.ConnectionType, e.EndPoint?.ToString());
        Connected?.Invoke(multiplexer);

        // Part of connecting, so the first value written or read already uses Redis' clock; without Redis it fails fast
        // (offset 0) and is measured again when Redis comes back.
        await Clock.AttachAsync(multiplexer).ConfigureAwait(false);
        return multiplexer;
    }
}
