using System;
using System.Collections.Generic;
using System.Threading;
using System.Threading.Channels;
using System.Threading.Tasks;
using Microsoft.Extensions.Logging;

namespace ScaleOps.Jobs.Internal;

/// <summary>
/// Collects attempt outcomes and writes them in batches: while one batch is in flight the next one fills up, so under
/// load one statement completes hundreds of jobs. The channel is bounded (back-pressure on the executors). A batch that
/// fails in transport (database down, connection lost, timeout) is retried until it is written; meanwhile leases may
/// expire and the jobs run again, and the lease guard rejects the late write. A batch rejected for any other reason
/// (by the server, or by the client before sending, say a value Npgsql cannot encode) is written one outcome at a time,
/// and an outcome that still fails is dropped with an error log: its job runs again once its lease expires. Nothing
/// ends the loop but the end of the channel or giving up at shutdown, since every executor waits on it. A job's lease
/// stays registered, and heartbeated, until its outcome is written (or dropped): a write held up longer than the lease
/// (a row lock, a slow statement, a batch retried) must not let the rescuer run a job whose outcome is waiting here.
/// The leases of outcomes it gives up on stay registered too, for the stopping worker to give back. Outcomes are
/// counted (succeeded, failed, dead) once written, from the rows the statements completed: an outcome the lease guard
/// rejected (its run had lost the lease) is counted and logged as rejected instead.
/// </summary>
internal sealed class BatchCompleter(
    JobStore store, JobsOptions options, LeaseRegistry leases, JobsMetrics metrics, TimeProvider time, ILogger logger)
{
    private readonly Channel<Completion> _channel = Channel.CreateBounded<Completion>(
        new BoundedChannelOptions(JobsDefaults.CompletionBatchSize * 8) { SingleReader = true, FullMode = BoundedChannelFullMode.Wait });

    /// <summary>Raised after each written batch, with its size (tests and benchmarks observe completion through it).</summary>
    public event Action<int>? Flushed;

    /// <summary>Raised after each written batch with its outcomes: the producers of their queues may start capped tenants' jobs.</summary>
    public event Action<IReadOnlyList<Completion>>? Written;

    /// <summary>Outcomes waiting for the next batch (tests wait for them to pile up).</summary>
    internal int Waiting => _channel.Reader.Count;

    public ValueTask AddAsync(Completion completion) => _channel.Writer.WriteAsync(completion, CancellationToken.None);

    /// <summary>Whether <see cref="Complete"/> was called (tests wait for a stopping worker to reach its flush).</summary>
    internal bool Completing { get; private set; }

    /// <summary>No more completions will come; <see cref="RunAsync"/> ends once everything is written.</summary>
    public void Complete()
    {
        Completing = true;
        _channel.Writer.TryComplete();
    }

    public async Task RunAsync(CancellationToken giveUp)
    {
        var batch = new List<Completion>(JobsDefaults.CompletionBatchSize);
        var reader = _channel.Reader;
        try
        {
            while (await reader.WaitToReadAsync(giveUp).ConfigureAwait(false))
            {
                while (batch.Count < JobsDefaults.CompletionBatchSize && reader.TryRead(out var item))
                {
                    batch.Add(item);
                }

                try
                {
                    await WriteAsync(batch, giveUp).ConfigureAwait(false);
                    Unregister(batch);
                    Written?.Invoke(batch);
                    Flushed?.Invoke(batch.Count);
                }
                catch (Exception ex) when (ex is not OperationCanceledException || !giveUp.IsCancellationRequested)
                {
                    // Not expected (WriteAsync handles what the database and Npgsql throw), but a dead loop would stop
                    // every completion on this host and block every executor once the channel is full.
                    Unregister(batch);
                    JobsLog.CompletionsDropped(logger, ex, batch.Count);
                }

                batch.Clear();
            }
        }
        catch (OperationCanceledException) when (giveUp.IsCancellationRequested)
        {
            // Shutting down with the database unreachable: the unwritten outcomes' leases stay registered, and the
            // stopping worker gives their jobs back (or, if it cannot reach the database either, the rescuer does).
        }
    }

    /// <summary>The batch's outcomes are written (or dropped): their leases need no more heartbeats.</summary>
    private void Unregister(List<Completion> batch)
    {
        foreach (var completion in batch)
        {
            leases.Remove(new LeaseToken(completion.Id, completion.LeaseId));
        }
    }

    private async Task WriteAsync(List<Completion> batch, CancellationToken giveUp)
    {
        var delay = TimeSpan.FromMilliseconds(50);
        while (true)
        {
            // While the statement runs it locks the batch's rows: a heartbeat would wait for it (and with it every other
            // lease's renewal), and the rescuer skips locked rows, so the batch's leases sit out the heartbeats meanwhile.
            leases.SetWriting(batch, writing: true);
            try
            {
                var written = await store.JobCompleteManyAsync(
                    batch, options.SucceededRetention == TimeSpan.Zero, CancellationToken.None).ConfigureAwait(false);
                Count(batch, written);
                return;
            }
            catch (Exception ex) when (IsTransport(ex))
            {
                leases.SetWriting(batch, writing: false);
                JobsLog.CompleteFailed(logger, ex, batch.Count, delay);
                await Task.Delay(delay, time, giveUp).ConfigureAwait(false);
                delay = TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, TimeSpan.FromSeconds(5).Ticks));
            }
            catch (Exception ex) when (batch.Count > 1)
            {
                // The batch itself was rejected (not the connection): write the outcomes one by one so one bad value
                // cannot block every completion.
                leases.SetWriting(batch, writing: false);
                JobsLog.CompletionsRejected(logger, ex, batch.Count);
                foreach (var single in batch)
                {
                    await WriteAsync([single], giveUp).ConfigureAwait(false);
                }

                return;
            }
            catch (Exception ex)
            {
                // This one outcome cannot be written: drop it; the lease rescuer runs the job again.
                var single = batch[0];
                JobsLog.CompletionDropped(logger, ex, single.Id, single.Attempt, single.Kind);
                return;
            }
        }
    }

    /// <summary>Counts a written batch's outcomes; <paramref name="written"/>: null when the statements completed every job.</summary>
    private void Count(List<Completion> batch, HashSet<LeaseToken>? written)
    {
        foreach (var c in batch)
        {
            if (written is null || written.Contains(new LeaseToken(c.Id, c.LeaseId)))
            {
                metrics.Completed(c.Queue, c.JobKind, c.Kind);
            }
            else
            {
                metrics.Rejected(c.Queue, c.JobKind);
                JobsLog.CompletionRejected(logger, c.Id, c.JobKind, c.Attempt, c.Kind);
            }
        }
    }

    /// <summary>
    /// Worth retrying the same batch: the connection or the server's state, not the batch (connection loss, shutdown,
    /// lack of resources, serialization failures, timeouts). Anything else rejects the batch.
    /// </summary>
    private static bool IsTransport(Exception ex) => ex switch
    {
        Npgsql.PostgresException pg => pg.IsTransient || pg.SqlState.StartsWith("08", StringComparison.Ordinal)
            || pg.SqlState.StartsWith("53", StringComparison.Ordinal) || pg.SqlState.StartsWith("57", StringComparison.Ordinal)
            || pg.SqlState.StartsWith("40", StringComparison.Ordinal),
        Npgsql.NpgsqlException or TimeoutException => true,
        _ => false,
    };
}
