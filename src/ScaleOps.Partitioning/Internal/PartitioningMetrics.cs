using System;
using System.Collections.Generic;
using System.Diagnostics.Metrics;
using System.Linq;
using ScaleOps.Diagnostics;
using ScaleOps.Partitioning.Lifecycle;

namespace ScaleOps.Partitioning.Internal;

/// <summary>The <c>scaleops.partitioning.*</c> instruments on the shared ScaleOps meter.</summary>
internal sealed class PartitioningMetrics
{
    private readonly Counter<long> _actions;
    private readonly Counter<long> _failures;
    private readonly Histogram<double> _maintenance;
    private readonly Counter<long> _auditWritten;
    private readonly Histogram<double> _auditFlush;
    private readonly Counter<long> _auditRejected;
    private readonly Counter<long> _archived;
    private volatile IReadOnlyList<PartitionHealth> _health = [];

    public PartitioningMetrics(ScaleOpsMetrics scaleOps)
    {
        var meter = scaleOps.Meter;
        _actions = meter.CreateCounter<long>("scaleops.partitioning.actions", "{action}", "Maintenance steps done, by kind.");
        _failures = meter.CreateCounter<long>("scaleops.partitioning.maintenance.failures", "{step}",
            "Maintenance steps that failed, by kind (table: a table that could not be checked or planned); the run went on with the rest.");
        // Buckets from 10 ms to 2 min: a no-op run takes milliseconds, a run that moves default rows can take minutes.
        _maintenance = meter.CreateHistogram<double>("scaleops.partitioning.maintenance.duration", "s", "Duration of one maintenance run.",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120] });
        _auditWritten = meter.CreateCounter<long>("scaleops.partitioning.audit.written", "{event}", "Audit events written to PostgreSQL.");
        // Buckets from 1 ms to 10 s: one binary COPY of a batch.
        _auditFlush = meter.CreateHistogram<double>("scaleops.partitioning.audit.flush.duration", "s", "Duration of one audit batch COPY.",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10] });
        _auditRejected = meter.CreateCounter<long>("scaleops.partitioning.audit.rejected", "{event}",
            "Audit events PostgreSQL refused for their data, dropped so that the events after them are written.");
        _archived = meter.CreateCounter<long>("scaleops.partitioning.archive.rows", "{row}", "Rows archived to Blob storage and verified.");
        meter.CreateObservableGauge("scaleops.partitioning.default_rows", () => Per(h => h.DefaultPartitionRows), "{row}",
            "Rows in the default partition at the last health check (alarm above 0).");
        meter.CreateObservableGauge("scaleops.partitioning.missing_future_partitions", () => Per(h => (long)h.MissingFuturePartitions), "{partition}",
            "Future partitions missing at the last health check.");
        meter.CreateObservableGauge("scaleops.partitioning.past_retention", () => Per(h => (long)h.PartitionsPastRetention), "{partition}",
            "Partitions past retention still attached at the last health check.");
        meter.CreateObservableGauge("scaleops.partitioning.partition_grants_not_on_parent", () => Per(h => (long)h.PartitionGrantsNotOnParent), "{grant}",
            "Grants on partitions that the parent does not give, at the last health check (alarm above 0 after maintenance).");
        meter.CreateObservableGauge("scaleops.partitioning.partition_row_security_not_as_parent", () => Per(h => (long)h.PartitionRowSecurityNotAsParent),
            "{partition}", "Partitions whose row-level security differs from the parent's, at the last health check (alarm above 0 after maintenance).");
        meter.CreateObservableGauge("scaleops.partitioning.size", () => Per(h => h.TotalBytes), "By", "Size of all partitions of a table.");
        meter.CreateObservableGauge("scaleops.partitioning.partitions", () => Per(h => (long)h.Partitions.Count), "{partition}",
            "Attached partitions of a table.");
    }

    public void ActionDone(PartitionActionKind kind) =>
        _actions.Add(1, new KeyValuePair<string, object?>("kind", kind.ToString().ToLowerInvariant()));

    public void MaintenanceFailed(PartitionActionKind? kind) =>
        _failures.Add(1, new KeyValuePair<string, object?>("kind", kind?.ToString().ToLowerInvariant() ?? "table"));

    public void MaintenanceRan(TimeSpan elapsed) => _maintenance.Record(elapsed.TotalSeconds);

    public void AuditWritten(int count, TimeSpan elapsed)
    {
        _auditWritten.Add(count);
        _auditFlush.Record(elapsed.TotalSeconds);
    }

    public void AuditRejected(long count) => _auditRejected.Add(count);

    public void Archived(long rows) => _archived.Add(rows);

    public void Observe(IReadOnlyList<PartitionHealth> health) => _health = health;

    private IEnumerable<Measurement<long>> Per(Func<PartitionHealth, long> value) =>
        _health.Select(h => new Measurement<long>(value(h), new KeyValuePair<string, object?>("table", h.Table)));
}
