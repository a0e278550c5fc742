using System;
using System.Threading;
using System.Threading.Tasks;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace ScaleOps.Partitioning.Internal;

/// <summary>
/// Runs maintenance when the host starts (a bad table configuration fails the start, naming the setting; a failing step
/// does not), then every <see cref="PartitioningOptions.MaintenanceInterval"/> on the host's <see cref="TimeProvider"/>.
/// Stopping cancels the wait and lets a running step finish its transaction.
/// </summary>
internal sealed class MaintenanceHostedService(
    PartitionMaintenance maintenance, PartitionStore store, IOptions<PartitioningOptions> options, TimeProvider time, ILogger<MaintenanceHostedService> logger)
    : BackgroundService
{
    private PeriodicTimer? _timer;

    /// <summary>Raised after each scheduled run (tests await it).</summary>
    internal event Action? Ran;

    public override async Task StartAsync(CancellationToken cancellationToken)
    {
        if (options.Value.PlanCacheMode is { } mode)
        {
            await store.SetPlanCacheModeAsync(options.Value.PlanCacheRole, mode, cancellationToken).ConfigureAwait(false);
        }

        if (options.Value.RunMaintenanceOnStart)
        {
            // A configuration error (a table missing, not range-partitioned on one time column) fails the start, naming
            // the setting. What goes wrong after that (Blob storage unreachable, a lock timeout) does not: it is logged,
            // the run goes on with the other steps, and the schedule tries again.
            // A declared table that is still a plain table is the first step of a conversion (README): it does not fail
            // the start, and the run below logs it with what to do (4014) and skips it until ITableMigrator has converted
            // it (logged here as well, it was two identical warnings at every start).
            foreach (var table in maintenance.Tables)
            {
                try
                {
                    await maintenance.ResolveAsync(table, cancellationToken).ConfigureAwait(false);
                }
                catch (TableNotPartitionedYetException)
                {
                    // Logged by the run (the leader's, when another host runs it).
                }
            }

            await RunOnceAsync(cancellationToken).ConfigureAwait(false);
        }

        // The timer starts here, not in ExecuteAsync (which .NET runs on the thread pool): time moved after start counts.
        var interval = options.Value.MaintenanceInterval;
        if (interval > TimeSpan.Zero)
        {
            _timer = new PeriodicTimer(interval, time);
        }

        await base.StartAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>One maintenance run then the health check; the check runs even when the run failed.</summary>
    private async Task RunOnceAsync(CancellationToken cancellationToken)
    {
        try
        {
            await maintenance.RunMaintenanceAsync(cancellationToken: cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (!cancellationToken.IsCancellationRequested)
        {
            Log.MaintenanceFailed(logger, ex);
        }

        try
        {
            await maintenance.GetHealthAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (!cancellationToken.IsCancellationRequested)
        {
            Log.MaintenanceFailed(logger, ex);
        }
    }

    public override void Dispose()
    {
        _timer?.Dispose();
        base.Dispose();
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (_timer is not { } timer)
        {
            return;
        }

        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false))
            {
                await RunOnceAsync(stoppingToken).ConfigureAwait(false);
                Ran?.Invoke();
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // stopping
        }
    }
}
