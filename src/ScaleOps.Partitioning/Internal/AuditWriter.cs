using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Threading;
using System.Threading.Channels;
using System.Threading.Tasks;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Npgsql;
using ScaleOps.Data;
using ScaleOps.Partitioning.Audit;
using ScaleOps.Tenancy;

namespace ScaleOps.Partitioning.Internal;

/// <summary>
/// The audit writer: a bounded channel (writers wait when it is full: back-pressure, never unbounded memory) drained
/// by one owned loop that writes batches with binary COPY when a batch is full or its time is up. Stopping the host
/// closes the channel and writes everything still queued before the stop returns.
/// </summary>
/// <remarks>
/// Not a <see cref="BackgroundService"/>: since .NET 10 it starts <c>ExecuteAsync</c> through <c>Task.Run</c> with the
/// stopping token, so a host stopped before the thread pool got to it never ran the loop, and the events already
/// queued were lost. The loop here is started with no token and always drains the channel.
/// The channel is closed in <see cref="StoppedAsync"/>, after every hosted service's <c>StopAsync</c>: the host stops its
/// services in reverse order of registration, so closing it in <see cref="StopAsync"/> refused the events of every
/// service registered before <c>AddPartitioning</c> (a worker, a job runner) written while it finished its work.
/// </remarks>
internal sealed partial class AuditWriter : IHostedLifecycleService, IAuditLog, IDisposable
{
    private static readonly TimeSpan FirstRetryDelay = TimeSpan.FromMilliseconds(100);
    private static readonly TimeSpan MaxRetryDelay = TimeSpan.FromSeconds(5);

    private readonly Channel<Pending> _channel;
    private readonly AuditStore _store;
    private readonly ITenantContext _tenants;
    private readonly TimeProvider _time;
    private readonly DatabaseClock _clock; // occurred_at: the database's clock as this host estimates it
    private readonly PartitioningMetrics _metrics;
    private readonly ILogger<AuditWriter> _logger;
    private readonly AuditOptions _options;
    private readonly CancellationTokenSource _abort = new();
    private Task? _loop;

    // Events of the batch in flight not yet written or dropped (the loop's own state; read when it is aborted).
    private int _unwritten;

    public AuditWriter(AuditStore store, ITenantContext tenants, TimeProvider time, DatabaseClock clock, PartitioningMetrics metrics,
        IOptions<PartitioningOptions> options, ILogger<AuditWriter> logger)
    {
        _store = store;
        _tenants = tenants;
        _time = time;
        _clock = clock;
        _metrics = metrics;
        _logger = logger;
        _options = options.Value.Audit;
        _channel = Channel.CreateBounded<Pending>(new BoundedChannelOptions(_options.Capacity)
        {
            FullMode = BoundedChannelFullMode.Wait,
            SingleReader = true,
        });
    }

    /// <summary>A queued event, or (when <see cref="Flushed"/> is set) a flush marker.</summary>
    /// <remarks><c>Changes</c> and <c>Metadata</c> are the entry's JSON as text, read at <c>WriteAsync</c> (the entry's own
    /// <see cref="System.Text.Json.JsonElement"/>s may belong to a disposed document by the time the batch is written).</remarks>
    internal sealed record Pending(Guid Id, DateTime OccurredAt, string Tenant, string? Actor, AuditEntry? Entry, TaskCompletionSource? Flushed,
        string? Changes = null, string? Metadata = null);

    /// <summary>Raised when a write of a batch (or of a part of it) failed; it is retried or split (tests await it).</summary>
    internal event Action<Exception>? WriteFailed;

    public async ValueTask<Guid> WriteAsync(AuditEntry entry, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(entry);
        if (!_options.Enabled)
        {
            throw new InvalidOperationException($"The audit trail is disabled ({PartitioningDefaults.Section}:Audit:Enabled is false).");
        }

        var tenant = _tenants.RequireTenant();
        var actor = entry.Actor ?? _tenants.UserId;
        // A value PostgreSQL can never store fails here, naming the field, not later in the batch it would share. The JSON
        // is taken as text now: the caller's JsonDocument may be disposed as soon as this returns.
        var (changes, metadata) = AuditEntryValidation.Validate(entry, actor);
        var at = _clock.GetUtcNow();
        // Microsecond precision, as PostgreSQL stores it, so the id's timestamp and occurred_at agree.
        var occurred = new DateTime(at.UtcTicks - (at.UtcTicks % 10), DateTimeKind.Utc);
        var id = Guid.CreateVersion7(at);
        var pending = new Pending(id, occurred, tenant.Value, actor, entry, null, changes, metadata);
        try
        {
            await _channel.Writer.WriteAsync(pending, cancellationToken).ConfigureAwait(false);
        }
        catch (ChannelClosedException ex)
        {
            throw new InvalidOperationException("The audit writer is stopped (the host is shutting down); the event was not queued.", ex);
        }

        return id;
    }

    public async Task FlushAsync(CancellationToken cancellationToken = default)
    {
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        if (!_channel.Writer.TryWrite(new Pending(Guid.Empty, default, "", null, null, done)))
        {
            try
            {
                await _channel.Writer.WriteAsync(new Pending(Guid.Empty, default, "", null, null, done), cancellationToken).ConfigureAwait(false);
            }
            catch (ChannelClosedException)
            {
                await (_loop ?? Task.CompletedTask).WaitAsync(cancellationToken).ConfigureAwait(false);
                return;
            }
        }

        await done.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
    }

    public Task StartAsync(CancellationToken cancellationToken)
    {
        _loop ??= Task.Run(RunAsync, CancellationToken.None);
        return Task.CompletedTask;
    }

    public Task StartingAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StartedAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StoppingAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    /// <summary>Nothing: the other hosted services may still write events while they stop (see <see cref="StoppedAsync"/>).</summary>
    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    /// <summary>
    /// Once every hosted service has stopped: closes the channel and waits until everything queued is written, or until
    /// <paramref name="cancellationToken"/> (the host's stop timeout) fires: then the batch in flight and the rest are
    /// given up, and logged as dropped.
    /// </summary>
    public async Task StoppedAsync(CancellationToken cancellationToken)
    {
        _channel.Writer.TryComplete();
        if (_loop is null)
        {
            return;
        }

        await using var hardStop = cancellationToken.Register(static s => ((CancellationTokenSource)s!).Cancel(), _abort);
        try
        {
            await _loop.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // The host gave up waiting; the loop stops at once (aborted) and Dispose frees what it still uses.
        }
    }

    public void Dispose()
    {
        // StoppedAsync may have returned early (the host's stop timeout) while the loop still writes: the host is now
        // being disposed, so give up the batch in flight, and free the token source only once the loop has left.
        if (_loop is { IsCompleted: false } running)
        {
            try
            {
                _abort.Cancel();
            }
            catch (ObjectDisposedException)
            {
                // Already disposed.
            }

            _ = running.ContinueWith(static (_, s) => ((CancellationTokenSource)s!).Dispose(), _abort, CancellationToken.None,
                TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        }
        else
        {
            _abort.Dispose();
        }
    }

    private async Task RunAsync()
    {
        // The loop takes no stopping token on purpose: it ends when StoppedAsync has closed the channel and it is drained.
        var batch = new List<Pending>(_options.BatchSize);
        var markers = new List<TaskCompletionSource>();
        var reader = _channel.Reader;
        while (await reader.WaitToReadAsync(CancellationToken.None).ConfigureAwait(false))
        {
            batch.Clear();
            markers.Clear();
            await FillAsync(reader, batch, markers).ConfigureAwait(false);
            try
            {
                await WriteWithRetryAsync(batch).ConfigureAwait(false);
            }
            catch (OperationCanceledException ex) when (_abort.IsCancellationRequested)
            {
                var left = _unwritten;
                while (reader.TryRead(out var rest))
                {
                    left += rest.Entry is null ? 0 : 1;
                    rest.Flushed?.TrySetException(ex);
                }

                Log.AuditDropped(_logger, ex, left);
                foreach (var marker in markers)
                {
                    marker.TrySetException(ex);
                }

                return;
            }

            foreach (var marker in markers)
            {
                marker.TrySetResult();
            }
        }
    }

    private async Task FillAsync(ChannelReader<Pending> reader, List<Pending> batch, List<TaskCompletionSource> markers)
    {
        using var window = new CancellationTokenSource(_options.FlushInterval, _time);
        while (batch.Count < _options.BatchSize)
        {
            if (reader.TryRead(out var item))
            {
                if (item.Flushed is not null)
                {
                    markers.Add(item.Flushed);
                    return;
                }

                batch.Add(item);
                continue;
            }

            try
            {
                if (!await reader.WaitToReadAsync(window.Token).ConfigureAwait(false))
                {
                    return;
                }
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    /// <summary>
    /// Writes one batch. The first attempt is a binary COPY. A failure that is not the data's fault (connection lost,
    /// server down, no partition for the time yet) is retried after a growing pause, forever: the batch stays, the full
    /// channel is the back-pressure. Every retry is idempotent (<see cref="AuditStore.InsertIdempotentAsync"/>): the
    /// failed COPY may have committed before its reply was lost, and the ids are ours, so an id already there is that
    /// event. A batch PostgreSQL rejects for its data (SQLSTATE class 22, 23 or 54, or a value the client cannot encode) is
    /// split in halves until the events it refuses are alone; those are logged, counted and dropped, the rest is written.
    /// </summary>
    private async Task WriteWithRetryAsync(List<Pending> batch)
    {
        _unwritten = batch.Count;
        if (batch.Count == 0)
        {
            return;
        }

        var parts = new Stack<List<Pending>>();
        parts.Push(batch);
        var idempotent = false;
        var delay = FirstRetryDelay;
        var attempt = 0;
        while (parts.TryPeek(out var part))
        {
            attempt++;
            var started = Stopwatch.GetTimestamp();
            Exception failure;
            try
            {
                if (idempotent)
                {
                    await _store.InsertIdempotentAsync(part, _abort.Token).ConfigureAwait(false);
                }
                else
                {
                    await _store.CopyAsync(part, _abort.Token).ConfigureAwait(false);
                }

                _metrics.AuditWritten(part.Count, Stopwatch.GetElapsedTime(started));
                parts.Pop();
                _unwritten -= part.Count;
                attempt = 0;
                delay = FirstRetryDelay;
                continue;
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                failure = ex;
            }

            WriteFailed?.Invoke(failure);
            if (IsRejectedData(failure))
            {
                if (!idempotent)
                {
                    // Once more, idempotently, before blaming an event: a duplicate id (23505) means this batch is already in.
                    idempotent = true;
                    continue;
                }

                parts.Pop();
                if (part.Count == 1)
                {
                    var p = part[0];
                    _unwritten--;
                    _metrics.AuditRejected(1);
                    Log.AuditRejected(_logger, failure, p.Id, p.Tenant, p.Entry!.Action, (failure as PostgresException)?.SqlState ?? failure.GetType().Name);
                    continue;
                }

                Log.AuditBatchRejected(_logger, failure, part.Count);
                var half = part.Count / 2;
                parts.Push(part.GetRange(half, part.Count - half));
                parts.Push(part.GetRange(0, half));
                continue;
            }

            idempotent = true;
            Log.AuditFlushFailed(_logger, failure, part.Count, attempt);
            if (IsTimeout(failure) && part.Count > 1)
            {
                // A statement timeout shorter than this batch's COPY cancels it on every retry: halves, until they fit.
                parts.Pop();
                var half = part.Count / 2;
                parts.Push(part.GetRange(half, part.Count - half));
                parts.Push(part.GetRange(0, half));
                continue;
            }

            await Task.Delay(delay, _time, _abort.Token).ConfigureAwait(false);
            delay = TimeSpan.FromTicks(Math.Min(MaxRetryDelay.Ticks, delay.Ticks * 2));
        }
    }

    /// <summary>
    /// Whether PostgreSQL (or the client's encoder) refused the data itself, so the same rows fail every time: SQLSTATE
    /// class 22 (data exception), 23 (integrity constraint violation) or 54 (program limit exceeded: a value too large for
    /// an index the application added, JSON nested too deep), except "no partition of relation found for row" (23514
    /// without a constraint name), which maintenance cures by creating the partition, so it is retried.
    /// </summary>
    /// <summary>
    /// Whether the statement was cancelled for taking too long: PostgreSQL's <c>statement_timeout</c> (57014) or the
    /// client's command timeout. A smaller batch may fit where the whole one never does.
    /// </summary>
    internal static bool IsTimeout(Exception exception) =>
        exception is PostgresException { SqlState: PostgresErrorCodes.QueryCanceled }
        || (exception is NpgsqlException && exception.InnerException is TimeoutException);

    internal static bool IsRejectedData(Exception exception) => exception switch
    {
        PostgresException pg when pg.SqlState == PostgresErrorCodes.CheckViolation && pg.ConstraintName is null => false,
        PostgresException pg => pg.SqlState.StartsWith("22", StringComparison.Ordinal) || pg.SqlState.StartsWith("23", StringComparison.Ordinal)
            || pg.SqlState.StartsWith("54", StringComparison.Ordinal),
        NpgsqlException => false,
        // Raised while serializing a value (for example EncoderFallbackException for a lone surrogate): the same every time.
        ArgumentException or InvalidCastException or FormatException => true,
        _ => false,
    };
}
