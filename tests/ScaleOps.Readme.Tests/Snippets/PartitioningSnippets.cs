namespace ScaleOps.Readme.Tests.Snippets;

internal static class PartitioningSnippets
{
    public static void Register(WebApplicationBuilder builder)
    {
        #region readme src/ScaleOps.Partitioning/README.md 1
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

    public static async Task MaintainAsync(IPartitionMaintenance maintenance)
    {
        #region readme src/ScaleOps.Partitioning/README.md 2
        var plan = await maintenance.RunMaintenanceAsync(dryRun: true); // the steps, each also logged (4015); nothing changed
        var health = await maintenance.GetHealthAsync();                // missing partitions, default rows, past retention, sizes
        #endregion
    }

    public static async Task AuditAsync(IAuditLog audit, DateTimeOffset from, DateTimeOffset to)
    {
        #region readme src/ScaleOps.Partitioning/README.md 3
        // Inside a tenant scope (the job runner begins it for each job; your request middleware or filter, per request):
        await audit.WriteAsync(new AuditEntry
        {
            Action = "document.updated",
            EntityType = "document",
            EntityId = "42",
            Changes = JsonSerializer.SerializeToElement(new { title = new[] { "old", "new" } }),
        });                                // queued: written in batches (Audit:BatchSize, Audit:FlushInterval, 1 s)
        await audit.FlushAsync();          // only to read your own write back at once (a test, a demo): waits for the batch
        var events = await audit.QueryAsync(from, to, limit: 100); // this tenant's, newest first, pruned to the range
                                                                  // (from after to: ArgumentException)
        if (events.Count == 100)           // a full page: there may be more
        {
            var more = await audit.QueryAfterAsync(from, to, AuditPosition.Of(events[^1]), limit: 100); // the next page
        }

        var read = await audit.PartitionsReadAsync(from, to);       // which partitions that query reads (EXPLAIN ANALYZE)
        #endregion
    }
}
