using System.Threading;
using System.Threading.Tasks;

namespace ScaleOps.Resilience.Internal.RateLimiting;

/// <summary>
/// The background give-backs of leased tokens in flight (a pool swept away, tokens leased under a plan the tenant left),
/// so that a stop or dispose waits for them as for its own. Counted from the moment the tokens leave their pool, under
/// the pool's lock (<see cref="Expect"/>): a stop closes every pool afterwards, so it finds every give-back begun before
/// it, also one whose script call is not sent yet.
/// </summary>
internal sealed class GiveBacks
{
    private readonly object _gate = new();
    private int _inFlight;
    private TaskCompletionSource? _idle;

    /// <summary>A give-back is about to start; <see cref="Done"/> must follow.</summary>
    public void Expect() => Interlocked.Increment(ref _inFlight);

    /// <summary>A give-back counted by <see cref="Expect"/> has ended (given back or lost).</summary>
    public void Done()
    {
        if (Interlocked.Decrement(ref _inFlight) != 0)
        {
            return;
        }

        TaskCompletionSource? idle;
        lock (_gate)
        {
            if (Volatile.Read(ref _inFlight) != 0)
            {
                return; // another began meanwhile: its end completes the wait
            }

            idle = _idle;
            _idle = null;
        }

        idle?.TrySetResult();
    }

    /// <summary>Completes when no give-back is in flight (those begun meanwhile included); <see langword="null"/>: none now.</summary>
    public Task? WhenIdle()
    {
        lock (_gate)
        {
            return Volatile.Read(ref _inFlight) == 0
                ? null
                : (_idle ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).Task;
        }
    }
}
