using System.Diagnostics;

namespace ScaleOps.Diagnostics;

/// <summary>Public names for observability: subscribe to these in OpenTelemetry.</summary>
public static class ScaleOpsDiagnostics
{
    /// <summary>The name of the one <see cref="System.Diagnostics.Metrics.Meter"/> shared by every ScaleOps package.</summary>
    public const string MeterName = "ScaleOps";

    /// <summary>The name of the ScaleOps <see cref="System.Diagnostics.ActivitySource"/>.</summary>
    public const string ActivitySourceName = "ScaleOps";

    /// <summary>
    /// The one activity source of every ScaleOps package (<c>AddSource("ScaleOps")</c> in OpenTelemetry). It traces the
    /// units of background work, not the hot paths: schema migrations (<c>ScaleOps.Migrations</c>), job runs
    /// (<c>ScaleOps.Jobs.Run</c>), partition maintenance runs and their steps (<c>ScaleOps.Partitioning.Maintenance</c>,
    /// <c>ScaleOps.Partitioning.Step</c>). Without a listener, starting an activity costs a null check.
    /// </summary>
    public static ActivitySource ActivitySource { get; } = new(ActivitySourceName, typeof(ScaleOpsDiagnostics).Assembly.GetName().Version?.ToString());
}
