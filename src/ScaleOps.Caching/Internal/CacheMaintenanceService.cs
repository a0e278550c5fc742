using System;
using System.Threading;
using System.Threading.Tasks;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace ScaleOps.Caching.Internal;

/// <summary>
/// The cache's one background loop: connects to Redis at start-up, sweeps expired memory entries every
/// <see cref="CachingOptions.SweepInterval"/>, replays pending invalidations as soon as Redis returns, and while Redis is
/// down probes it once per <see cref="CachingOptions.BreakerDuration"/>, so the cache (and its health) recovers even when
/// every read is a memory hit.
/// </summary>
internal sealed class CacheMaintenanceService(TenantCache cache, TimeProvider time, Microsoft.Extensions.Options.IOptions<CachingOptions> options,
    ILogger<CacheMaintenanceService>? logger = null) : BackgroundService
{
    public override Task StartAsync(CancellationToken cancellationToken)
    {
        _ = cache.ConnectAsync();
        return base.StartAsync(cancellationToken);
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var interval = options.Value.SweepInterval;
        Task? wake = null;
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                wake ??= cache.Wake.WaitAsync(stoppingToken);
                using var delayCancel = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken);
                // While Redis is down, come back once per breaker period to probe it (see TenantCache.MaintainAsync). A wait
                // begun while Redis was up ends when it goes down (the cache signals Wake), not a sweep interval later.
                var wait = cache.Redis.IsAvailable ? interval : TimeSpan.FromTicks(Math.Min(interval.Ticks, options.Value.BreakerDuration.Ticks));
                var delay = Task.Delay(wait, time, delayCancel.Token);
                if (await Task.WhenAny(wake, delay).ConfigureAwait(false) == wake)
                {
                    await wake.ConfigureAwait(false);
                    wake = null;
                }

                await delayCancel.CancelAsync().ConfigureAwait(false);
                await cache.MaintainAsync().ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex)
            {
                Log.SweepFailed((ILogger?)logger ?? Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance, ex);
            }
        }
    }
}
