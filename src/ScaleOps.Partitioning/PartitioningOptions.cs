using System;
using System.Collections.Generic;
using ScaleOps.Partitioning.Audit;
using ScaleOps.Partitioning.Lifecycle;

namespace ScaleOps.Partitioning;

/// <summary>Settings of ScaleOps.Partitioning, bound from the configuration section <c>ScaleOps:Partitioning</c>.</summary>
public sealed class PartitioningOptions
{
    /// <summary>The tables whose partitions ScaleOps maintains (the audit log is added by itself when enabled).</summary>
    /// <value>Default empty.</value>
    public IList<PartitionedTableOptions> Tables { get; set; } = [];

    /// <summary>Whether the hosted service runs maintenance when the host starts (and fails the start on bad tables).</summary>
    /// <value>Default <see langword="true"/>.</value>
    public bool RunMaintenanceOnStart { get; set; } = true;

    /// <summary>How often the hosted service runs maintenance; <see cref="TimeSpan.Zero"/> disables the schedule.</summary>
    /// <value>Default 1 hour; zero, or 1 second to 1 day.</value>
    public TimeSpan MaintenanceInterval { get; set; } = TimeSpan.FromHours(1);

    /// <summary>
    /// The <c>lock_timeout</c> of every DDL statement. A statement that cannot get its lock in time gives up (so it never
    /// queues live readers and writers behind it) and is retried after a pause.
    /// </summary>
    /// <value>Default 500 ms; 10 ms to 1 minute.</value>
    public TimeSpan LockTimeout { get; set; } = TimeSpan.FromMilliseconds(500);

    /// <summary>How many times a DDL statement that timed out on its lock is tried in all.</summary>
    /// <value>Default 10; 1 to 1000.</value>
    public int DdlAttempts { get; set; } = 10;

    /// <summary>The pause between two attempts of a DDL statement (doubled each time, at most 30 s).</summary>
    /// <value>Default 200 ms; 0 to 1 minute.</value>
    public TimeSpan DdlRetryDelay { get; set; } = TimeSpan.FromMilliseconds(200);

    /// <summary>
    /// The Azure Blob Storage connection string used by archival. When empty, <c>ConnectionStrings:Blob</c> is used.
    /// </summary>
    /// <value>Default <see langword="null"/>. Required when a table sets <see cref="PartitionedTableOptions.Archive"/>.</value>
    public string? BlobConnectionString { get; set; }

    /// <summary>The Blob container that holds archived partitions (created when missing).</summary>
    /// <value>Default <c>scaleops-archive</c>; 3 to 63 lowercase letters, digits and hyphens.</value>
    public string ArchiveContainer { get; set; } = "scaleops-archive";

    /// <summary>
    /// How long a request to Blob storage may go without an answer before it is abandoned (and retried, up to three
    /// times). Storage that silently drops traffic otherwise held an archive or restore step for minutes (the SDK's
    /// default is 100 s per try).
    /// </summary>
    /// <value>Default 30 seconds; 1 second to 10 minutes.</value>
    public TimeSpan ArchiveNetworkTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Rows per Parquet row group while exporting: the most rows an archive run holds in memory.</summary>
    /// <value>Default 50,000; 100 to 1,000,000.</value>
    public int ArchiveRowGroupSize { get; set; } = 50_000;

    /// <summary>
    /// When set, the host's start sets <c>plan_cache_mode</c> as a default of <see cref="PlanCacheRole"/> in this
    /// database (<c>ALTER ROLE ... IN DATABASE ... SET plan_cache_mode</c>), for sessions opened afterwards.
    /// <c>force_generic_plan</c> is the measured fit for prepared statements on partitioned tables: PostgreSQL 15's
    /// <c>auto</c> never picks the generic plan there and re-plans every unpruned partition on each call, while the
    /// generic plan prunes at run time (see docs/architecture/partitioning.md for the figures and the trade-offs: the
    /// setting applies to every prepared statement of the role, on any table).
    /// </summary>
    /// <value>Default <see langword="null"/> (leave the role alone); <c>auto</c>, <c>force_generic_plan</c> or <c>force_custom_plan</c>.</value>
    public string? PlanCacheMode { get; set; }

    /// <summary>The role whose default <see cref="PlanCacheMode"/> is set; the connecting role when empty.</summary>
    /// <value>Default <see langword="null"/> (the connecting role, which may always set its own defaults).</value>
    public string? PlanCacheRole { get; set; }

    /// <summary>The audit trail.</summary>
    public AuditOptions Audit { get; set; } = new();
}
