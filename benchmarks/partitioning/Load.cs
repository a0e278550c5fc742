using System;
using System.Threading.Tasks;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace ScaleOps.Benchmarks.Partitioning;

public static partial class Program
{
    /// <summary>The "now" of the data: rows span the 24 months before it.</summary>
    internal static readonly DateTime Now = DateTime.UtcNow;

    internal static IHost Host(Action<ScaleOps.Partitioning.PartitioningOptions>? configure = null, bool audit = true)
    {
        var builder = Microsoft.Extensions.Hosting.Host.CreateApplicationBuilder();
        builder.Logging.SetMinimumLevel(LogLevel.Error);
        builder.Services.AddScaleOps(o => o.ConnectionString = ConnectionString).AddPartitioning(o =>
        {
            o.Audit.Enabled = audit;
            o.Audit.Premake = 4;
            o.MaintenanceInterval = TimeSpan.Zero;
            configure?.Invoke(o);
        });
        return builder.Build();
    }

    /// <summary>
    /// The audit table as ScaleOps creates it (monthly partitions, 24 back + current + 4 ahead, no default) and a plain
    /// copy with the same indexes; 1,000 tenants, the whale with 10% of the rows, "small" with about 0.0135%. Rows are
    /// generated in SQL in time order (an audit table is appended in time order), loaded once and shared by every
    /// measurement; indexes on the plain table are built after its load.
    /// </summary>
    private static async Task LoadAsync()
    {
        using (var host = Host())
        {
            await host.StartAsync(); // migration + current and 4 ahead
            await host.StopAsync();
        }

        // The 24 past months (maintenance made the current one and 4 ahead on the empty table; the rest here).
        for (var m = 24; m >= 1; m--)
        {
            var start = new DateTime(Now.Year, Now.Month, 1, 0, 0, 0, DateTimeKind.Utc).AddMonths(-m);
            await ExecAsync($"CREATE TABLE IF NOT EXISTS scaleops.audit_log_p{start:yyyy_MM} PARTITION OF scaleops.audit_log FOR VALUES FROM ('{start:yyyy-MM-dd}+00') TO ('{start.AddMonths(1):yyyy-MM-dd}+00')");
        }

        await ExecAsync("CREATE TABLE bench_plain (LIKE scaleops.audit_log INCLUDING DEFAULTS)");
        // Row g of N is stamped (g / N) of the way through the 730 days before now (plus up to a second of jitter),
        // so the table is in time order; the id is a UUIDv7 of that time (its millisecond, then md5 bits).
        await ExecAsync(
            "INSERT INTO bench_plain SELECT "
            + "(lpad(to_hex(floor(extract(epoch FROM ts) * 1000)::bigint), 12, '0') || '7' || substr(h, 1, 3) || '8' || substr(h, 4, 15))::uuid, ts, "
            + "CASE WHEN g % 10 = 0 THEN 'whale' WHEN g % 7407 = 1 THEN 'small' ELSE 't' || (g % 997) END, 'document.updated', 'document', "
            + "'d' || (g % 5000), 'user' || (g % 300), '203.0.113.7', 'bench/1.0', jsonb_build_object('title', jsonb_build_array('old', 'new ' || g)), "
            + "jsonb_build_object('requestId', h) "
            + $"FROM (SELECT g, timestamptz '{Now:yyyy-MM-dd HH:mm:ss}+00' - interval '730 days' + (g::float8 / {Rows}) * interval '730 days' - interval '2 seconds' "
            + "+ random() * interval '1 second' AS ts, md5(g::text) AS h "
            + $"FROM generate_series(1, {Rows}) g) s");
        await ExecAsync("INSERT INTO scaleops.audit_log SELECT * FROM bench_plain");
        // The partitioned table's indexes (made by the migrations) grew row by row during that insert, about 45% larger
        // than the plain table's, built after its load: rebuild them so both tables are compared with compact indexes
        // (a live table of either kind has fragmented ones alike).
        await ExecAsync("REINDEX TABLE scaleops.audit_log");
        await ExecAsync("ALTER TABLE bench_plain ADD PRIMARY KEY (id)");
        await ExecAsync("CREATE INDEX bench_plain_tenant_time ON bench_plain (tenant_id, occurred_at DESC)");
        // A BRIN index on the time column on both tables, so "count by day" is not won by pruning alone.
        await ExecAsync("CREATE INDEX bench_plain_time_brin ON bench_plain USING brin (occurred_at)");
        await ExecAsync("CREATE INDEX audit_log_time_brin ON scaleops.audit_log USING brin (occurred_at)");
        await ExecAsync("VACUUM ANALYZE bench_plain");
        await ExecAsync("VACUUM ANALYZE scaleops.audit_log");
    }
}
