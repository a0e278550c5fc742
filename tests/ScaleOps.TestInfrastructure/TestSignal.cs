using System;
using System.Threading.Tasks;

namespace ScaleOps.TestInfrastructure;

/// <summary>Waits on signals instead of sleeping: every wait is bounded, and a timeout names what did not happen.</summary>
public static class TestSignal
{
    /// <summary>The default bound of a wait.</summary>
    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(30);

    /// <summary>Awaits <paramref name="task"/> or fails after <paramref name="timeout"/>.</summary>
    /// <param name="task">What to wait for.</param>
    /// <param name="what">What the task means, for the failure message.</param>
    /// <param name="timeout">The bound; <see cref="DefaultTimeout"/> when null.</param>
    /// <returns>A task.</returns>
    public static async Task WaitAsync(this Task task, string what, TimeSpan? timeout = null)
    {
        ArgumentNullException.ThrowIfNull(task);
        try
        {
            await task.WaitAsync(timeout ?? DefaultTimeout);
        }

        // Only the wait running out: a task that failed with its own TimeoutException keeps it (and its message).
        catch (TimeoutException ex) when (!task.IsCompleted)
        {
            throw new TimeoutException($"Timed out after {(timeout ?? DefaultTimeout).TotalSeconds:0.#} s waiting for: {what}", ex);
        }
    }

    /// <summary>Awaits <paramref name="task"/> or fails after <paramref name="timeout"/>.</summary>
    /// <typeparam name="T">The result type.</typeparam>
    /// <param name="task">What to wait for.</param>
    /// <param name="what">What the task means, for the failure message.</param>
    /// <param name="timeout">The bound; <see cref="DefaultTimeout"/> when null.</param>
    /// <returns>The result.</returns>
    public static async Task<T> WaitAsync<T>(this Task<T> task, string what, TimeSpan? timeout = null)
    {
        ArgumentNullException.ThrowIfNull(task);
        try
        {
            return await task.WaitAsync(timeout ?? DefaultTimeout);
        }
        catch (TimeoutException ex) when (!task.IsCompleted)
        {
            throw new TimeoutException($"Timed out after {(timeout ?? DefaultTimeout).TotalSeconds:0.#} s waiting for: {what}", ex);
        }
    }

    /// <summary>
    /// Polls <paramref name="condition"/> (a database read, say) until it holds, at most <paramref name="timeout"/>.
    /// For state that has no event to await; the interval is short and the loop is bounded.
    /// </summary>
    /// <param name="condition">The condition.</param>
    /// <param name="what">What the condition means, for the failure message.</param>
    /// <param name="timeout">The bound; <see cref="DefaultTimeout"/> when null.</param>
    /// <returns>A task.</returns>
    public static async Task UntilAsync(Func<Task<bool>> condition, string what, TimeSpan? timeout = null)
    {
        ArgumentNullException.ThrowIfNull(condition);
        var deadline = DateTime.UtcNow + (timeout ?? DefaultTimeout);
        while (!await condition())
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"Timed out after {(timeout ?? DefaultTimeout).TotalSeconds:0.#} s waiting for: {what}");
            }

            await Task.Delay(20);
        }
    }
}
