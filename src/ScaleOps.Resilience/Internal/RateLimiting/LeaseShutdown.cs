using System.Threading;
using System.Threading.Tasks;
using Microsoft.Extensions.Hosting;

namespace ScaleOps.Resilience.Internal.RateLimiting;

/// <summary>
/// Gives the Redis limiter's leased tokens back when the host has stopped: in <see cref="StoppedAsync"/>, after every
/// hosted service's <c>StopAsync</c> (the server has drained its requests) and before the container disposes its
/// singletons. The limiter's own dispose comes too late for a multiplexer the host registered: the container disposes
/// singletons in reverse order of creation, and that multiplexer, resolved on the limiter's first call, goes first.
/// Does nothing when no Redis limiter was built.
/// </summary>
internal sealed class LeaseShutdown : IHostedLifecycleService
{
    private RedisTenantRateLimiter? _limiter;

    /// <summary>The Redis limiter, set when the container builds it.</summary>
    public RedisTenantRateLimiter? Limiter
    {
        get => Volatile.Read(ref _limiter);
        set => Volatile.Write(ref _limiter, value);
    }

    public Task StartingAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StartedAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StoppingAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    /// <summary>Nothing: the other hosted services (the web server draining its requests) may still use the limiter.</summary>
    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    /// <summary>Stops leasing and gives back what is leased, waiting at most 1 s or until the host's stop timeout.</summary>
    public Task StoppedAsync(CancellationToken cancellationToken) =>
        Limiter?.StopLeasingAsync(cancellationToken) ?? Task.CompletedTask;
}
