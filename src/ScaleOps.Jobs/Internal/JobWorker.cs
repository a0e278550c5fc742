using System;
using System.Collections.Generic;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using ScaleOps.Data;
using ScaleOps.Tenancy;

namespace ScaleOps.Jobs.Internal;

/// <summary>
/// The hosted service that runs the queue on this host: one producer per queue, the LISTEN connection, the batch
/// completer, heartbeats, rescuer, retention and recurring schedules (on a host with <see cref="JobsOptions.RunWorker"/>
/// off, only the recurring schedules: firing one is an enqueue). Stopping: fetching stops, running jobs get
/// <see cref="JobsOptions.ShutdownTimeout"/> to finish, then they are cancelled; the completer writes what it holds
/// (within <see cref="JobsDefaults.CompletionFlushTimeout"/>), and whatever is left is given back (pending again,
/// attempt not counted), outcomes it could not write included.
/// </summary>
internal sealed class JobWorker(
    IServiceProvider services, JobStore store, IOptions<JobsOptions> jobsOptions, TimeProvider time, DatabaseClock clock, JobsMetrics metrics,
    LocalDispatch dispatch, ILoggerFactory loggerFactory) : IHostedService, IDisposable
{
    private readonly ILogger _logger = loggerFactory.CreateLogger("ScaleOps.Jobs.Worker");
    private readonly CancellationTokenSource _stopFetching = new();
    private readonly CancellationTokenSource _shutdown = new();
    private readonly CancellationTokenSource _stopBackground = new();
    private readonly CancellationTokenSource _giveUpCompleting = new();
    private readonly List<Task> _producerTasks = [];
    private readonly List<Task> _backgroundTasks = [];
    private Dictionary<string, QueueProducer> _producers = new(StringComparer.Ordinal);
    private readonly LeaseRegistry _leases = new();
    private readonly Lock _gate = new();
    private Task _completerTask = Task.CompletedTask;
    private Task? _stopping;
    private bool _started;
    private bool _schedulesOnly;

    internal BatchCompleter? Completer { get; private set; }

    /// <summary>The fetch loop of a queue, once started (tests look at its fetch count).</summary>
    internal QueueProducer? Producer(string queue) => _producers is { } producers && producers.TryGetValue(queue, out var p) ? p : null;

    internal JobNotifier? Notifier { get; private set; }

    public Task StartAsync(CancellationToken cancellationToken)
    {
        var options = jobsOptions.Value;
        CronScheduler.CheckPayloads(services.GetServices<RecurringJob>(), options.SerializerOptions);
        if (!options.RunWorker)
        {
            // A host that only enqueues still fires its recurring schedules (a due time is an enqueue); before, it
            // ignored them without a word, so schedules registered only on such hosts never ran.
            _schedulesOnly = true;
            _started = true;
            StartSchedules(options);
            return Task.CompletedTask;
        }

        _started = true;
        // Also finds the handler of jobs stored under a generic payload type's old, assembly-qualified kind.
        var handlers = new JobHandlers(services.GetServices<JobHandlerRegistration>());

        Completer = new BatchCompleter(store, options, _leases, metrics, time, _logger);
        var executor = new JobExecutor(
            services.GetRequiredService<IServiceScopeFactory>(), services.GetRequiredService<ITenantContext>(), handlers, options, time,
            clock, Completer, metrics, _logger);
        var queues = new Dictionary<string, QueueOptions>(options.Queues, StringComparer.Ordinal);
        queues.TryAdd(options.DefaultQueue, new QueueOptions());
        _producers = queues.ToDictionary(
            q => q.Key, q => new QueueProducer(q.Key, q.Value, options, store, executor, _leases, time, clock, _logger), StringComparer.Ordinal);
        Notifier = new JobNotifier(store.DataSource, store.NotifyChannel, _producers, time, _logger)
        {
            LivenessInterval = options.ListenLivenessInterval,
            LivenessTimeoutSeconds = options.ListenLivenessTimeoutSeconds,
        };
        // Caps and key limits are per queue: a written batch wakes only the producers of the queues it completed jobs of
        // (waking every producer made one with a capped tenant fetch again on each unrelated batch).
        var producers = _producers;
        Completer.Written += batch =>
        {
            string? last = null;
            foreach (var completion in batch)
            {
                if (!string.Equals(completion.Queue, last, StringComparison.Ordinal) && producers.TryGetValue(completion.Queue, out var producer))
                {
                    producer.CompletionsWritten();
                }

                last = completion.Queue;
            }
        };

        _completerTask = Task.Run(() => Completer.RunAsync(_giveUpCompleting.Token), CancellationToken.None);
        _backgroundTasks.Add(Task.Run(() => Notifier.RunAsync(_stopBackground.Token), CancellationToken.None));
        _backgroundTasks.Add(Task.Run(
            () => new JobMaintenance(store, options, _leases, metrics, time, clock, _logger).RunAsync(_stopBackground.Token), CancellationToken.None));
        StartSchedules(options);
        foreach (var producer in _producers.Values)
        {
            _producerTasks.Add(Task.Run(() => producer.RunAsync(_stopFetching.Token, _shutdown.Token), CancellationToken.None));
        }

        dispatch.Open(_producers, handlers);

        JobsLog.WorkerStarted(_logger, string.Join(", ", queues.Select(q => $"{q.Key} (concurrency {q.Value.Concurrency})")));
        return Task.CompletedTask;
    }

    private void StartSchedules(JobsOptions options) => _backgroundTasks.Add(Task.Run(
        () => new CronScheduler([.. services.GetServices<RecurringJob>()], store, options, time, clock, _logger).RunAsync(_stopBackground.Token),
        CancellationToken.None));

    /// <summary>
    /// Stops the worker. Safe to call more than once and concurrently (ASP.NET Core's minimal hosting and
    /// WebApplicationFactory both stop the host): every caller waits for the one stop in progress, so the host is never
    /// disposed while jobs are still being drained. When the host's own stop timeout fires, running jobs are cancelled
    /// at once instead of after <see cref="JobsOptions.ShutdownTimeout"/>.
    /// </summary>
    public async Task StopAsync(CancellationToken cancellationToken)
    {
        Task stopping;
        lock (_gate)
        {
            if (!_started)
            {
                return;
            }

            stopping = _stopping ??= StopCoreAsync();
        }

        await using var hurry = cancellationToken.Register(static s => ((JobWorker)s!).CancelQuietly(((JobWorker)s!)._shutdown), this);
        await stopping.ConfigureAwait(false);
    }

    private async Task StopCoreAsync()
    {
        await Task.Yield();
        if (_schedulesOnly)
        {
            await _stopBackground.CancelAsync().ConfigureAwait(false);
            await Task.WhenAll(_backgroundTasks).ConfigureAwait(false);
            return;
        }

        var options = jobsOptions.Value;
        dispatch.Close();
        await _stopFetching.CancelAsync().ConfigureAwait(false);
        await Task.WhenAll(_producerTasks).ConfigureAwait(false);

        var drained = Task.WhenAll(_producers.Values.Select(p => p.WhenDrained));
        if (!await CompletesWithinAsync(drained, options.ShutdownTimeout).ConfigureAwait(false))
        {
            await _shutdown.CancelAsync().ConfigureAwait(false);
            await CompletesWithinAsync(drained, options.TimeoutGrace + JobsDefaults.AbandonMargin).ConfigureAwait(false);
        }

        // A job that local dispatch inserts started from now on is given back by its client, not started here.
        foreach (var producer in _producers.Values)
        {
            producer.Close();
        }

        // The completer writes what it holds first: a job's lease stays registered until its outcome is written, so
        // what is left afterwards is what must be given back (unfinished jobs, and outcomes the completer gave up on).
        // It has its own time for that: ShutdownTimeout is the handlers' (0 is valid), and an outcome dropped here would
        // run its job again.
        Completer?.Complete();
        if (!await CompletesWithinAsync(_completerTask, JobsDefaults.CompletionFlushTimeout).ConfigureAwait(false))
        {
            await _giveUpCompleting.CancelAsync().ConfigureAwait(false);
            await _completerTask.ConfigureAwait(false);
        }

        var released = 0;
        var unfinished = _leases.Snapshot();
        if (unfinished.Count > 0)
        {
            try
            {
                released = await store.JobReleaseManyAsync(unfinished, clock.GetUtcNow(), CancellationToken.None).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is Npgsql.NpgsqlException or TimeoutException or InvalidOperationException)
            {
                JobsLog.MaintenanceFailed(_logger, ex, "release");
            }
        }

        await _stopBackground.CancelAsync().ConfigureAwait(false);
        await Task.WhenAll(_backgroundTasks).ConfigureAwait(false);
        JobsLog.WorkerStopped(_logger, released);
    }

    public void Dispose()
    {
        dispatch.Close();
        Task? stopping;
        lock (_gate)
        {
            _started = false;
            stopping = _stopping;
        }

        if (stopping is { IsCompleted: false })
        {
            // Disposed while a stop is still draining (the host gave up waiting): cut it short, and free the token
            // sources only once nothing uses them any more.
            CancelQuietly(_stopFetching);
            CancelQuietly(_shutdown);
            CancelQuietly(_giveUpCompleting);
            CancelQuietly(_stopBackground);
            _ = stopping.ContinueWith(static (_, s) => ((JobWorker)s!).DisposeSources(), this, CancellationToken.None,
                TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
            return;
        }

        DisposeSources();
    }

    private void DisposeSources()
    {
        _stopFetching.Dispose();
        _shutdown.Dispose();
        _stopBackground.Dispose();
        _giveUpCompleting.Dispose();
    }

    private void CancelQuietly(CancellationTokenSource source)
    {
        try
        {
            source.Cancel();
        }
        catch (ObjectDisposedException)
        {
            // Already stopped and disposed.
        }
        catch (AggregateException ex)
        {
            JobsLog.MaintenanceFailed(_logger, ex, "stop");
        }
    }

    private async Task<bool> CompletesWithinAsync(Task task, TimeSpan timeout)
    {
        try
        {
            await task.WaitAsync(timeout, time).ConfigureAwait(false);
            return true;
        }
        catch (TimeoutException)
        {
            return false;
        }
    }
}
