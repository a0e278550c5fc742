using System;
using System.Diagnostics.Metrics;
using System.Reflection;

namespace ScaleOps.Diagnostics;

/// <summary>
/// Owns the <c>ScaleOps</c> meter, created through <see cref="IMeterFactory"/> so tests and hosts can collect it.
/// Packages create their instruments on <see cref="Meter"/> with names prefixed <c>scaleops.{package}.</c>.
/// </summary>
public sealed class ScaleOpsMetrics
{
    /// <summary>Creates the meter.</summary>
    /// <param name="meterFactory">The host's meter factory.</param>
    public ScaleOpsMetrics(IMeterFactory meterFactory)
    {
        ArgumentNullException.ThrowIfNull(meterFactory);
        var version = typeof(ScaleOpsMetrics).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion;
        Meter = meterFactory.Create(new MeterOptions(ScaleOpsDiagnostics.MeterName) { Version = version });
    }

    /// <summary>The shared meter.</summary>
    public Meter Meter { get; }
}
