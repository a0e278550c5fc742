using System;
using System.Collections.Generic;
using System.Threading;
using System.Threading.Tasks;
using Microsoft.Extensions.Logging;
using Npgsql;
using ScaleOps.Data;

namespace ScaleOps.Jobs.Internal;

/// <summary>
/// Holds one dedicated connection that LISTENs for new jobs and wakes the producer of the notified queue at once.
/// When the connection breaks it reconnects with backoff, and wakes every producer after reconnecting (notifications
/// sent meanwhile are lost; the fetch finds the work).
/// </summary>
internal sealed class JobNotifier(
    NpgsqlDataSource dataSource, string channel, IReadOnlyDictionary<string, QueueProducer> producers, TimeProvider time, ILogger logger)
{
    private readonly TaskCompletionSource _listening = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Completes once the first LISTEN is in place.</summary>
    public Task Listening => _listening.Task;

    public async Task RunAsync(CancellationToken stopping)
    {
        var delay = TimeSpan.FromMilliseconds(100);
        while (!stopping.IsCancellationRequested)
        {
            try
            {
                await using var connection = await dataSource.OpenConnectionAsync(stopping).ConfigureAwait(false);
                connection.Notification += OnNotification;
                await using (var listen = new NpgsqlCommand("LISTEN " + SqlIdentifier.Quote(channel), connection))
                {
                    await listen.ExecuteNonQueryAsync(stopping).ConfigureAwait(false);
                }

                _listening.TrySetResult();
                delay = TimeSpan.FromMilliseconds(100);
                WakeAll();
                while (!stopping.IsCancellationRequested)
                {
                    await connection.WaitAsync(stopping).ConfigureAwait(false);
                }
            }
            catch (OperationCanceledException) when (stopping.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex) when (ex is NpgsqlException or TimeoutException or InvalidOperationException or System.IO.IOException)
            {
                JobsLog.ListenFailed(logger, ex, delay);
                WakeAll();
                try
                {
                    await Task.Delay(delay, time, stopping).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    return;
                }

                delay = TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, TimeSpan.FromSeconds(5).Ticks));
            }
        }
    }

    private void OnNotification(object sender, NpgsqlNotificationEventArgs e)
    {
        if (producers.TryGetValue(e.Payload, out var producer))
        {
            producer.Wake();
        }
    }

    private void WakeAll()
    {
        foreach (var producer in producers.Values)
        {
            producer.Wake();
        }
    }
}
