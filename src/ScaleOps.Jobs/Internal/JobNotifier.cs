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

    private int _listens;

    /// <summary>Completes once the first LISTEN is in place.</summary>
    public Task Listening => _listening.Task;

    /// <summary>How many times a LISTEN was put in place (tests wait for a reconnect with it).</summary>
    public int Listens => Volatile.Read(ref _listens);

    /// <summary>
    /// After this long without a notification, a round trip checks that the connection still answers: one that died
    /// without a word (a failover that moved the database's address, a NAT or firewall dropping the idle flow) would
    /// otherwise leave the wait hanging for good, and new jobs found only by each queue's idle poll.
    /// </summary>
    public TimeSpan LivenessInterval { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>How long that round trip may take (whole seconds, at least one) before the connection counts as dead.</summary>
    public int LivenessTimeoutSeconds { get; init; } = 10;

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

                Interlocked.Increment(ref _listens);
                _listening.TrySetResult();
                delay = TimeSpan.FromMilliseconds(100);
                WakeAll();
                while (!stopping.IsCancellationRequested)
                {
                    if (!await connection.WaitAsync(LivenessInterval, stopping).ConfigureAwait(false))
                    {
                        // A timeout (NpgsqlException) breaks the connection: the catch below logs it and reconnects.
                        await using var ping = new NpgsqlCommand("SELECT 1", connection) { CommandTimeout = Math.Max(1, LivenessTimeoutSeconds) };
                        await ping.ExecuteNonQueryAsync(stopping).ConfigureAwait(false);
                    }
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
