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
    /// Starts not on the pump (locally dispatched, or taken off it by <see cref="Watch"/>) still in their synchronous
    /// part; <c>Seen</c> once the watchdog found the start held past <see cref="PumpStall"/>, <c>Reported</c> once event
    /// 3021 was logged for it (its handler's own code held the thread that long).
    /// </summary>
    private readonly List<(FetchedJob Job, long Since, bool Seen, bool Reported)> _blocked = [];

    private int _stallsSeen;

    /// <summary>How many starts the watchdog found held past <see cref="PumpStall"/>, reported or not (tests wait for it).</summary>
    internal int StallsSeen => Volatile.Read(ref _stallsSeen);

    /// <summary>Runs a locally dispatched job on this pool thread, watched like a start on the pump (<see cref="Watch"/>).</summary>
    private void RunOffPump(FetchedJob job)
    {
        lock (_gate)
        {
            _blocked.Add((job, Environment.TickCount64, false, false));
        }

        _ = RunOneAsync(job);
        lock (_gate)
        {
            _blocked.RemoveAll(b => ReferenceEquals(b.Job, job));
        }
    }

    /// <summary>Whether the handler's own code (<see cref="FetchedJob.HandlerSince"/>) has held its thread past <see cref="PumpStall"/>.</summary>
    private static bool HeldByHandler(FetchedJob job, long now) =>
        job.HandlerSince is > 0 and var since && now - since >= (long)PumpStall.TotalMilliseconds;

    /// <summary>
    /// The watchdog (every <see cref="WatchInterval"/>, real time): a start that has held the pump's thread past
    /// <see cref="PumpStall"/> without returning a task loses the pump (another thread starts the buffered jobs; the
    /// blocked job keeps its slot, its thread being busy), and one still blocked past its timeout and
    /// <see cref="JobsOptions.TimeoutGrace"/> is abandoned: its attempt ends as a timeout and its lease is not renewed.
    /// A start is reported once (event 3021), whether it held the pump or a pool thread (local dispatch), when its
    /// handler's own code has held the thread past <see cref="PumpStall"/>: the worker's steps before the handler (the
    /// payload's deserialization, the handler's resolution, slow on a cold start) move the pump on but are not reported.
    /// </summary>
    internal void Watch()
    {
        var now = Environment.TickCount64;
        List<(FetchedJob Job, long Since, bool Seen, bool Reported)>? abandon = null;
        var repump = false;
        var stalled = 0;
        TaskCompletionSource? released = null;
        lock (_gate)
        {
            if (_inline.Job is { } held && now - _inline.Since >= (long)PumpStall.TotalMilliseconds)
            {
                var report = HeldByHandler(held, now);
                _blocked.Add((held, _inline.Since, true, report));
                _stallsSeen++;
                stalled += report ? 1 : 0;
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
                var (job, since, seen, reported) = _blocked[i];
                var limit = (job.TimeoutMs ?? (long)options.DefaultTimeout.TotalMilliseconds) + (long)options.TimeoutGrace.TotalMilliseconds;
                if (now - since >= limit)
                {
                    (abandon ??= []).Add(_blocked[i]);
                    _blocked.RemoveAt(i);
                    continue;
                }

                if (!seen && now - since >= (long)PumpStall.TotalMilliseconds)
                {
                    seen = true;
                    _stallsSeen++;
                }

                if (!reported && HeldByHandler(job, now))
                {
                    reported = true;
                    stalled++;
                }

                _blocked[i] = (job, since, seen, reported);
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

        foreach (var (job, since, _, _) in abandon ?? [])
        {
            _ = executor.AbandonBlockedAsync(job, TimeSpan.FromMilliseconds(now - since));
        }
    }
}
