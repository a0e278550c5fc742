using System;
using ScaleOps.Partitioning.Lifecycle;

namespace ScaleOps.Partitioning.Audit;

/// <summary>Settings of the audit trail, bound from <c>ScaleOps:Partitioning:Audit</c>.</summary>
public sealed class AuditOptions
{
    /// <summary>Whether the audit table (<c>{schema}.audit_log</c>, monthly partitions) and its writer are registered.</summary>
    /// <value>Default <see langword="true"/>.</value>
    public bool Enabled { get; set; } = true;

    /// <summary>The width of one audit partition.</summary>
    /// <value>Default <see cref="PartitionInterval.Month"/>.</value>
    public PartitionInterval Interval { get; set; } = PartitionInterval.Month;

    /// <summary>How many audit partitions past the current one always exist.</summary>
    /// <value>Default 3.</value>
    public int Premake { get; set; } = 3;

    /// <summary>How many whole intervals of audit history are kept; <see langword="null"/> keeps everything.</summary>
    /// <value>Default <see langword="null"/>; when set, at least <see cref="Premake"/>.</value>
    public int? Retention { get; set; }

    /// <summary>Whether expired audit partitions are archived to Blob storage before they are dropped.</summary>
    /// <value>Default <see langword="false"/>.</value>
    public bool Archive { get; set; }

    /// <summary>How many events wait in memory at most; a writer past it waits (back-pressure, never unbounded memory).</summary>
    /// <value>Default 10,000; 1 to 1,000,000.</value>
    public int Capacity { get; set; } = 10_000;

    /// <summary>A batch is written (binary COPY) as soon as it holds this many events.</summary>
    /// <value>Default 500; 1 to 100,000.</value>
    public int BatchSize { get; set; } = 500;

    /// <summary>A non-empty batch is written at the latest this long after its first event.</summary>
    /// <value>Default 1 second; 1 ms to 1 minute.</value>
    public TimeSpan FlushInterval { get; set; } = TimeSpan.FromSeconds(1);
}
