using System;
using System.Collections.Generic;
using System.Diagnostics.Metrics;
using ScaleOps.Diagnostics;

namespace ScaleOps.Jobs.Internal;

/// <summary>The job queue's instruments on the shared <c>ScaleOps</c> meter. Tags: <c>queue</c>, and <c>kind</c> where a job is known.</summary>
internal sealed class JobsMetrics
{
    private readonly Counter<long> _enqueued;
    private readonly Counter<long> _started;
    private readonly Counter<long> _succeeded;
    private readonly Counter<long> _failed;
    private readonly Counter<long> _dead;
    private readonly Counter<long> _rescued;
    private readonly Counter<long> _rejected;
    private readonly Histogram<double> _queueTime;
    private readonly Histogram<double> _runTime;
    private readonly HashSet<string> _knownQueues = new(StringComparer.Ordinal);
    private volatile KeyValuePair<string, long>[] _depths = [];

    public JobsMetrics(ScaleOpsMetrics metrics)
    {
        var meter = metrics.Meter;
        _enqueued = meter.CreateCounter<long>("scaleops.jobs.enqueued", "{job}", "Jobs inserted.");
        _started = meter.CreateCounter<long>("scaleops.jobs.started", "{job}", "Attempts started.");
        _succeeded = meter.CreateCounter<long>("scaleops.jobs.succeeded", "{job}", "Jobs that succeeded.");
        _failed = meter.CreateCounter<long>("scaleops.jobs.failed", "{job}", "Attempts that failed and will be retried.");
        _dead = meter.CreateCounter<long>("scaleops.jobs.dead", "{job}", "Jobs that failed their last attempt or cannot run.");
        _rescued = meter.CreateCounter<long>("scaleops.jobs.rescued", "{job}", "Jobs re-queued after their worker's lease expired.");
        _rejected = meter.CreateCounter<long>(
            "scaleops.jobs.completions.rejected", "{job}", "Attempt outcomes not written: the run had lost its lease (rescued, given back).");

        // Buckets from 1 ms (an idle queue's pickup) to about 15 minutes (a backlog): a wait spans six orders of magnitude.
        double[] waitBuckets = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900];
        _queueTime = meter.CreateHistogram<double>("scaleops.jobs.queue_time", "s", "From due (or enqueued, if later) to started.",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = waitBuckets });
        _runTime = meter.CreateHistogram<double>("scaleops.jobs.run_time", "s", "Handler run time of one attempt.",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = waitBuckets });
        meter.CreateObservableGauge("scaleops.jobs.queue.depth", ObserveDepth, "{job}", "Due jobs waiting, per queue (refreshed by the rescuer).");
    }

    public void Enqueued(string queue, string kind, int count) => _enqueued.Add(count, Tag("queue", queue), Tag("kind", kind));

    public void Started(string queue, string kind, double queueSeconds)
    {
        _started.Add(1, Tag("queue", queue), Tag("kind", kind));
        _queueTime.Record(queueSeconds, Tag("queue", queue), Tag("kind", kind));
    }

    /// <summary>The handler's run time of one attempt (its outcome is counted once written, <see cref="Completed"/>).</summary>
    public void Ran(string queue, string kind, double runSeconds) => _runTime.Record(runSeconds, Tag("queue", queue), Tag("kind", kind));

    /// <summary>An attempt's outcome, written: succeeded, failed (retried) or dead.</summary>
    public void Completed(string queue, string kind, CompletionKind outcome)
    {
        var counter = outcome switch
        {
            CompletionKind.Succeeded => _succeeded,
            CompletionKind.Retry => _failed,
            _ => _dead,
        };
        counter.Add(1, Tag("queue", queue), Tag("kind", kind));
    }

    /// <summary>An attempt's outcome the lease guard rejected: its run had lost the lease.</summary>
    public void Rejected(string queue, string kind) => _rejected.Add(1, Tag("queue", queue), Tag("kind", kind));

    /// <summary>Jobs of one queue and kind the rescuer re-queued, or made dead (their lease expired on their last attempt).</summary>
    public void Rescued(string queue, string kind, int requeued, int dead)
    {
        if (requeued > 0)
        {
            _rescued.Add(requeued, Tag("queue", queue), Tag("kind", kind));
        }

        if (dead > 0)
        {
            _dead.Add(dead, Tag("queue", queue), Tag("kind", kind));
        }
    }

    /// <summary>
    /// The rescuer's count of due jobs per queue (only queues with some). Every queue this host works, and every queue
    /// reported before, is observed too, as 0 when it has none: a queue left out of the observation is not 0 for an
    /// exporter, which goes on showing its last value (a drained queue stayed at its last depth).
    /// </summary>
    public void SetDepths(IEnumerable<(string Queue, long Count)> depths, IEnumerable<string> workedQueues)
    {
        lock (_knownQueues)
        {
            var counts = new Dictionary<string, long>(StringComparer.Ordinal);
            foreach (var (queue, count) in depths)
            {
                counts[queue] = count;
                _knownQueues.Add(queue);
            }

            _knownQueues.UnionWith(workedQueues);
            var list = new List<KeyValuePair<string, long>>(_knownQueues.Count);
            foreach (var queue in _knownQueues)
            {
                list.Add(new(queue, counts.GetValueOrDefault(queue)));
            }

            _depths = [.. list];
        }
    }

    private IEnumerable<Measurement<long>> ObserveDepth()
    {
        foreach (var d in _depths)
        {
            yield return new Measurement<long>(d.Value, Tag("queue", d.Key));
        }
    }

    private static KeyValuePair<string, object?> Tag(string key, string value) => new(key, value);
}
