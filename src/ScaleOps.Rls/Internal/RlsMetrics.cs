using System.Collections.Generic;
using System.Diagnostics.Metrics;
using ScaleOps.Diagnostics;

namespace ScaleOps.Rls.Internal;

/// <summary>The package's instruments on the shared ScaleOps meter.</summary>
internal sealed class RlsMetrics
{
    private readonly Counter<long> _sessions;
    private readonly Counter<long> _bypass;
    private readonly Counter<long> _fallbacks;

    public RlsMetrics(ScaleOpsMetrics metrics)
    {
        _sessions = metrics.Meter.CreateCounter<long>("scaleops.rls.sessions", "{session}",
            "Tenant-scoped connections and transactions opened with the RLS context.");
        _bypass = metrics.Meter.CreateCounter<long>("scaleops.rls.bypass.sessions", "{session}",
            "Connections opened through the RLS bypass scope (system work across tenants).");
        _fallbacks = metrics.Meter.CreateCounter<long>("scaleops.rls.replica.fallbacks", "{read}",
            "Reads sent to the primary because no replica was healthy and within the lag bound.");
    }

    public void SessionOpened(bool transaction) =>
        _sessions.Add(1, new KeyValuePair<string, object?>("scaleops.rls.kind", transaction ? "transaction" : "batch"));

    public void BypassOpened() => _bypass.Add(1);

    public void ReplicaFallback() => _fallbacks.Add(1);
}
