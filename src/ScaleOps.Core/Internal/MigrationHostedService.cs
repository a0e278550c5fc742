using System;
using System.Threading;
using System.Threading.Tasks;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using ScaleOps.Data;
using ScaleOps.Migrations;

namespace ScaleOps.Internal;

/// <summary>
/// Applies migrations while the host is starting, before any hosted service's <c>StartAsync</c>; then takes the
/// <see cref="DatabaseClock"/>'s first measurement, so that the first time a package writes is already on the
/// database's clock. The start waits for that measurement at most <see cref="ClockWait"/> (real time, whatever
/// <see cref="TimeProvider"/> the host gives): a database slow to answer delays the start by no more, the measurement
/// goes on in the background, and its failure is no start error.
/// </summary>
internal sealed class MigrationHostedService(IScaleOpsMigrator migrator, IOptions<ScaleOpsOptions> options, DatabaseClock clock)
    : IHostedLifecycleService
{
    /// <summary>How long the start waits for the database clock's first measurement.</summary>
    public static readonly TimeSpan ClockWait = TimeSpan.FromSeconds(5);

    public async Task StartingAsync(CancellationToken cancellationToken)
    {
        if (options.Value.ApplyMigrationsOnStart)
        {
            await migrator.MigrateAsync(cancellationToken).ConfigureAwait(false);
        }

        try
        {
            await clock.MeasureAsync().WaitAsync(ClockWait, cancellationToken).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            // Still measuring: the clock is the host's until it is done.
        }
    }

    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StartedAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StoppingAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StoppedAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
