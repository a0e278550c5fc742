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
/// fails (database down) is retried until it is written; meanwhile leases may expire and the jobs run again, and the
/// attempt guard rejects the late write.
/// </summary>
internal sealed class BatchCompleter(JobStore store, JobsOptions options, TimeProvider time, ILogger logger)
{
    private readonly Channel<Completion> _channel = Channel.CreateBounded<Completion>(
        new BoundedChannelOptions(JobsDefaults.CompletionBatchSize * 8) { SingleReader = true, FullMode = BoundedChannelFullMode.Wait });

    /// <summary>Raised after each written batch, with its size (tests and benchmarks observe completion through it).</summary>
    public event Action<int>? Flushed;

    public ValueTask AddAsync(Completion completion) => _channel.Writer.WriteAsync(completion, CancellationToken.None);

    /// <summary>No more completions will come; <see cref="RunAsync"/> ends once everything is written.</summary>
    public void Complete() => _channel.Writer.TryComplete();

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

                await WriteAsync(batch, giveUp).ConfigureAwait(false);
                Flushed?.Invoke(batch.Count);
                batch.Clear();
            }
        }
        catch (OperationCanceledException) when (giveUp.IsCancellationRequested)
        {
            // Shutting down with the database unreachable: the unwritten jobs are rescued after their leases expire.
        }
    }

    private async Task WriteAsync(List<Completion> batch, CancellationToken giveUp)
    {
        var delay = TimeSpan.FromMilliseconds(50);
        while (true)
        {
            try
            {
                await store.JobCompleteManyAsync(batch, options.SucceededRetention == TimeSpan.Zero, time.GetUtcNow(), CancellationToken.None)
                    .ConfigureAwait(false);
                return;
            }
            catch (Npgsql.PostgresException ex) when (!IsTransient(ex) && batch.Count > 1)
            {
                // The server rejected the batch itself (not the connection): write the outcomes one by one so one bad
                // value cannot block every completion; an outcome that still fails is left to the lease rescuer.
                JobsLog.CompleteFailed(logger, ex, batch.Count, TimeSpan.Zero);
                foreach (var single in batch)
                {
                    await WriteAsync([single], giveUp).ConfigureAwait(false);
                }

                return;
            }
            catch (Npgsql.PostgresException ex) when (!IsTransient(ex))
            {
                JobsLog.CompleteFailed(logger, ex, batch.Count, TimeSpan.Zero);
                return;
            }
            catch (Exception ex) when (ex is Npgsql.NpgsqlException or TimeoutException or InvalidOperationException)
            {
                JobsLog.CompleteFailed(logger, ex, batch.Count, delay);
                await Task.Delay(delay, time, giveUp).ConfigureAwait(false);
                delay = TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, TimeSpan.FromSeconds(5).Ticks));
            }
        }
    }

    /// <summary>Connection loss, shutdown, lack of resources, serialization failures: worth retrying the same batch.</summary>
    private static bool IsTransient(Npgsql.PostgresException ex) =>
        ex.IsTransient || ex.SqlState.StartsWith("08", StringComparison.Ordinal) || ex.SqlState.StartsWith("53", StringComparison.Ordinal)
        || ex.SqlState.StartsWith("57", StringComparison.Ordinal) || ex.SqlState.StartsWith("40", StringComparison.Ordinal);
}
