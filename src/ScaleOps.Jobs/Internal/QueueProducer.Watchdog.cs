using System;
using System.Collections.Generic;
using System.Threading;
using System.Threading.Tasks;

namespace ScaleOps.Jobs.Internal;

/// <summary>
/// The watchdog of handlers that block their thread before returning a task: jobs start inline (on the pump, or on a
/// pool thread when dispatched locally), so such a handler would hold the pump and keep its lease alive forever.
/// </summary>
internal sealed partial class QueueProducer
{
    /// <summary>How long a handler may hold the pump's thread before returning a task before the pump moves on (<see cref="Watch"/>).</summary>
    private static readonly TimeSpan PumpStall = TimeSpan.FromMilliseconds(100);

    /// <summary>How often <see cref="Watch"/> looks at the pump.</summary>
    private static readonly TimeSpan WatchInterval = TimeSpan.FromMilliseconds(50);

    /// <summary>
    /// Starts not on the pump (locally dispatched, or taken off it by <see cref="Watch"/>) still in their handler's
    /// synchronous part; <c>Reported</c> once event 3021 was logged for the start.
    /// </summary>
    private readonly List<(FetchedJob Job, long Since, bool Reported)> _blocked = [];

    /// <summary>Runs a locally dispatched job on this pool thread, watched like a start on the pump (<see cref="Watch"/>).</summary>
    private void RunOffPump(FetchedJob job)
    {
        lock (_gate)
        {
            _blocked.Add((job, Environment.TickCount64, false));
        }

        _ = RunOneAsync(job);
        lock (_gate)
        {
            _blocked.RemoveAll(b => ReferenceEquals(b.Job, job));
        }
    }

    /// <summary>
    /// The watchdog (every <see cref="WatchInterval"/>, real time): a handler that has held the pump's thread past
    /// <see cref="PumpStall"/> without returning a task loses the pump (another thread starts the buffered jobs; the
    /// blocked job keeps its slot, its thread being busy), and one still blocked past its timeout and
    /// <see cref="JobsOptions.TimeoutGrace"/> is abandoned: its attempt ends as a timeout and its lease is not renewed.
    /// Each such start is reported once (event 3021), whether it held the pump or a pool thread (local dispatch).
    /// </summary>
    internal void Watch()
    {
        var now = Environment.TickCount64;
        List<(FetchedJob Job, long Since, bool Reported)>? abandon = null;
        var repump = false;
        var stalled = 0;
        TaskCompletionSource? released = null;
        lock (_gate)
        {
            if (_inline.Job is { } held && now - _inline.Since >= (long)PumpStall.TotalMilliseconds)
            {
                _blocked.Add((held, _inline.Since, true));
                stalled++;
                _inline = default;
                _pumpGeneration++;
                _pumping = false;
                _pumpAgain = false;
                released = _pumpDone;
                _pumpDone = null;
                repump = true;
            }

            for (var i = _blocked.Count - 1; i >= 0; i--)
            {
                var (job, since, reported) = _blocked[i];
                var limit = (job.TimeoutMs ?? (long)options.DefaultTimeout.TotalMilliseconds) + (long)options.TimeoutGrace.TotalMilliseconds;
                if (now - since >= limit)
                {
                    (abandon ??= []).Add(_blocked[i]);
                    _blocked.RemoveAt(i);
                }
                else if (!reported && now - since >= (long)PumpStall.TotalMilliseconds)
                {
                    _blocked[i] = (job, since, true);
                    stalled++;
                }
            }
        }

        if (repump)
        {
            released?.TrySetResult(); // the fetch loop waiting for that pump goes on
            ThreadPool.UnsafeQueueUserWorkItem(static producer => producer.Pump(), this, preferLocal: false);
        }

        for (var i = 0; i < stalled; i++)
        {
            JobsLog.PumpStalled(logger, queue, PumpStall);
        }

        foreach (var (job, since, _) in abandon ?? [])
        {
            _ = executor.AbandonBlockedAsync(job, TimeSpan.FromMilliseconds(now - since));
        }
    }
}
