namespace ScaleOps.Diagnostics;

/// <summary>Public names for observability: subscribe to these in OpenTelemetry.</summary>
public static class ScaleOpsDiagnostics
{
    /// <summary>The name of the one <see cref="System.Diagnostics.Metrics.Meter"/> shared by every ScaleOps package.</summary>
    public const string MeterName = "ScaleOps";

    /// <summary>The name of the ScaleOps <see cref="System.Diagnostics.ActivitySource"/>.</summary>
    public const string ActivitySourceName = "ScaleOps";
}
