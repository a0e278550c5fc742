using System;
using System.Text.Json;
using System.Threading.Tasks;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using ScaleOps.Partitioning.Audit;
using ScaleOps.Partitioning.Lifecycle;

namespace ScaleOps.Partitioning.Tests.Snippets;

/// <summary>The README's sample, compiled (ReadmeTests checks the README quotes it verbatim).</summary>
internal static class UsePartitioning
{
    public static void Configure(HostApplicationBuilder builder)
    {
        #region readme
        builder.Services.AddScaleOps()          // ConnectionStrings:Postgres
            .AddPartitioning(o =>
            {
                // CREATE TABLE events (...) PARTITION BY RANGE (created_at) is yours; the partitions are ScaleOps'.
                o.Tables.Add(new PartitionedTableOptions
                {
                    Name = "events",
                    Column = "created_at",
                    Interval = PartitionInterval.Month,
                    Premake = 4,                // current month + 4 ahead always exist
                    Retention = 12,             // whole months kept before the current one
                    Archive = true,             // Parquet in Blob storage, verified, before the drop
                    Indexes = { new PartitionIndexTemplate { Suffix = "brin", Columns = ["created_at"], Brin = true } },
                });
                o.Audit.Retention = 24;         // the ready audit trail: scaleops.audit_log, monthly
            });
        #endregion
    }

    public static async Task WriteAndReadAsync(IAuditLog audit, DateTimeOffset from, DateTimeOffset to)
    {
        #region readme-audit
        // Inside a tenant scope (the HTTP middleware or the job runner opens it):
        await audit.WriteAsync(new AuditEntry
        {
            Action = "document.updated",
            EntityType = "document",
            EntityId = "42",
            Changes = JsonSerializer.SerializeToElement(new { title = new[] { "old", "new" } }),
        });
        var events = await audit.QueryAsync(from, to, limit: 100); // this tenant's, newest first, pruned to the range
        var read = await audit.PartitionsReadAsync(from, to);       // which partitions that query reads (EXPLAIN ANALYZE)
        #endregion
        _ = (events, read);
    }
}
