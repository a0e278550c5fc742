using System;
using System.Threading;
using System.Threading.Tasks;

namespace ScaleOps.Jobs.Internal;

/// <summary>
/// A wake-up signal: <see cref="Set"/> completes the current wait (or the next one). The waiter calls
/// <see cref="Reset"/> before it checks for work, so a signal raised after the check is never lost.
/// </summary>
internal sealed class AsyncSignal
{
    private TaskCompletionSource _tcs = New();

    public void Set() => Volatile.Read(ref _tcs).TrySetResult();

    public void Reset()
    {
        var current = Volatile.Read(ref _tcs);
        if (current.Task.IsCompleted)
        {
            Interlocked.CompareExchange(ref _tcs, New(), current);
        }
    }

    /// <summary>Waits for the signal; returns false when <paramref name="timeout"/> passed first.</summary>
    public async Task<bool> WaitAsync(TimeSpan timeout, TimeProvider time, CancellationToken cancellationToken)
    {
        var task = Volatile.Read(ref _tcs).Task;
        if (task.IsCompleted)
        {
            return true;
        }

        try
        {
            await task.WaitAsync(timeout, time, cancellationToken).ConfigureAwait(false);
            return true;
        }
        catch (TimeoutException)
        {
            return false;
        }
    }

    private static TaskCompletionSource New() => new(TaskCreationOptions.RunContinuationsAsynchronously);
}
