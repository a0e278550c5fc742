using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.Diagnostics;

namespace ScaleOps.TestInfrastructure;

/// <summary>
/// Records every activity of the <c>ScaleOps</c> source (and of any other sources named) that stops while it lives,
/// sampled with all data. Tests run in parallel in one process: filter what it recorded by a tag of your own work.
/// </summary>
public sealed class ActivityRecorder : IDisposable
{
    /// <summary>The name of the ScaleOps activity source (<c>ScaleOpsDiagnostics.ActivitySourceName</c>).</summary>
    public const string ScaleOpsSource = "ScaleOps";

    private readonly ActivityListener _listener;

    /// <summary>Starts recording.</summary>
    /// <param name="otherSources">Sources to record besides <c>ScaleOps</c> (a test's own root activity, say).</param>
    public ActivityRecorder(params string[] otherSources)
    {
        var names = new HashSet<string>(otherSources, StringComparer.Ordinal) { ScaleOpsSource };
        _listener = new ActivityListener
        {
            ShouldListenTo = source => names.Contains(source.Name),
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = Stopped.Enqueue,
        };
        ActivitySource.AddActivityListener(_listener);
    }

    /// <summary>The activities that stopped, in the order they stopped.</summary>
    public ConcurrentQueue<Activity> Stopped { get; } = new();

    /// <inheritdoc />
    public void Dispose() => _listener.Dispose();
}
