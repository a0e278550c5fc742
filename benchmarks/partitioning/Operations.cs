using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Linq;
using System.Text.Json;
using System.Threading.Tasks;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using NpgsqlTypes;
using ScaleOps.Partitioning.Audit;
using ScaleOps.Partitioning.Lifecycle;
using ScaleOps.Partitioning.Migration;
using ScaleOps.Tenancy;

namespace ScaleOps.Benchmarks.Partitioning;

public static partial class Program
{
    /// <summary>Binary COPY of 100k rows spread over 24 months, into the plain and the partitioned table (rolled back).</summary>
    private static async Task IngestAsync()
    {
        const int n = 100_000;
        var plain = new List<double>();
        var part = new List<double>();
        for (var run = 0; run < Repeat; run++)
        {
            foreach (var table in run % 2 == 0 ? new[] { "bench_plain", "scaleops.audit_log" } : ["scaleops.audit_log", "bench_plain"])
            {
                await using var connection = await Db.OpenConnectionAsync();
                await using var tx = await connection.BeginTransactionAsync();
                var random = new Random(run);
                var sw = Stopwatch.StartNew();
                await using (var copy = await connection.BeginBinaryImportAsync($"COPY {table} (id, occurred_at, tenant_id, action, entity_type, entity_id, metadata) FROM STDIN (FORMAT BINARY)"))
                {
                    for (var i = 0; i < n; i++)
                    {
                        var at = Now.AddMinutes(-random.Next(0, 730 * 24 * 60));
                        await copy.StartRowAsync();
                        await copy.WriteAsync(Guid.CreateVersion7(at), NpgsqlDbType.Uuid);
                        await copy.WriteAsync(at, NpgsqlDbType.TimestampTz);
                        await copy.WriteAsync("t" + (i % 997), NpgsqlDbType.Text);
                        await copy.WriteAsync("bench.ingest", NpgsqlDbType.Text);
                        await copy.WriteAsync("document", NpgsqlDbType.Text);
                        await copy.WriteAsync("d" + i, NpgsqlDbType.Text);
                        await copy.WriteAsync("{\"k\": 1}", NpgsqlDbType.Jsonb);
                    }

                    await copy.CompleteAsync();
                }

                (table == "bench_plain" ? plain : part).Add(n / sw.Elapsed.TotalSeconds);
                await tx.RollbackAsync();
            }
        }

        Console.WriteLine("\n## Ingest\n");
        Console.WriteLine("| operation | unpartitioned | partitioned | ratio |");
        Console.WriteLine("|---|---|---|---|");
        Console.WriteLine($"| binary COPY, 100k rows over 24 months, rows/s | {Stat(plain)} | {Stat(part)} | {Median(part.Zip(plain, (p, u) => p / u).ToList()):0.00}x |");
    }

    /// <summary>The audit writer (bounded channel, binary COPY batches of 500) with 4 concurrent producers.</summary>
    private static async Task AuditWriterAsync()
    {
        const int n = 100_000;
        var rates = new List<double>();
        for (var run = 0; run < Repeat; run++)
        {
            using var host = Host(o => o.RunMaintenanceOnStart = false);
            await host.StartAsync();
            var audit = host.Services.GetRequiredService<IAuditLog>();
            var tenants = host.Services.GetRequiredService<ITenantContext>();
            var changes = JsonSerializer.SerializeToElement(new { title = new[] { "old", "new" } });
            var sw = Stopwatch.StartNew();
            await Task.WhenAll(Enumerable.Range(0, 4).Select(p => Task.Run(async () =>
            {
                using var scope = tenants.BeginScope(new TenantId("t" + p));
                for (var i = 0; i < n / 4; i++)
                {
                    await audit.WriteAsync(new AuditEntry { Action = "bench.write", EntityType = "document", EntityId = "d" + i, Changes = changes });
                }
            })));
            await audit.FlushAsync();
            rates.Add(n / sw.Elapsed.TotalSeconds);
            await host.StopAsync();
        }

        Console.WriteLine("\n## Audit writer\n");
        Console.WriteLine("| operation | partitioned |");
        Console.WriteLine("|---|---|");
        Console.WriteLine($"| audit writer, 4 producers, 100k events to durable rows, events/s | {Stat(rates)} |");
    }

    /// <summary>
    /// Our maintenance against pg_partman's run_maintenance on the same table: the loaded audit table is registered with
    /// pg_partman (create_parent adds its template table and a default partition), both are timed interleaved with
    /// nothing to do and recreating the 4 partitions ahead, then pg_partman's registration and default are removed.
    /// </summary>
    private static async Task MaintenanceAsync()
    {
        var month = new DateTime(Now.Year, Now.Month, 1, 0, 0, 0, DateTimeKind.Utc);
        await ExecAsync("CREATE SCHEMA partman; CREATE EXTENSION pg_partman SCHEMA partman");
        await ExecAsync($"SELECT partman.create_parent('scaleops.audit_log', 'occurred_at', 'native', 'monthly', p_premake := 4, p_start_partition := '{month.AddMonths(-24):yyyy-MM-dd}')");
        var partitions = await ScalarAsync<long>("SELECT count(*) FROM pg_inherits WHERE inhparent = 'scaleops.audit_log'::regclass");
        var withDefault = await ScalarAsync<bool>("SELECT to_regclass('scaleops.audit_log_default') IS NOT NULL");
        using var host = Host(o => o.RunMaintenanceOnStart = false);
        var maintenance = host.Services.GetRequiredService<IPartitionMaintenance>();
        await maintenance.RunMaintenanceAsync();
        await ExecAsync("SELECT partman.run_maintenance('scaleops.audit_log')");

        var ours = new List<double>();
        var theirs = new List<double>();
        var oursCreate = new List<double>();
        var theirsCreate = new List<double>();
        for (var run = 0; run < Repeat * 2; run++)
        {
            ours.Add(await TimeAsync(() => maintenance.RunMaintenanceAsync()));
            theirs.Add(await TimeAsync(() => ExecAsync("SELECT partman.run_maintenance('scaleops.audit_log')")));
        }

        var future = Enumerable.Range(1, 4).Select(month.AddMonths).ToList();
        async Task DropFutureAsync()
        {
            foreach (var f in future)
            {
                await ExecAsync($"DROP TABLE scaleops.audit_log_p{f:yyyy_MM}");
            }
        }

        for (var run = 0; run < Repeat; run++)
        {
            await DropFutureAsync();
            oursCreate.Add(await TimeAsync(() => maintenance.RunMaintenanceAsync()));
            await DropFutureAsync();
            theirsCreate.Add(await TimeAsync(() => ExecAsync("SELECT partman.run_maintenance('scaleops.audit_log')")));
        }

        var after = await ScalarAsync<long>("SELECT count(*) FROM pg_inherits WHERE inhparent = 'scaleops.audit_log'::regclass");
        await ExecAsync("DELETE FROM partman.part_config WHERE parent_table = 'scaleops.audit_log'; DROP TABLE IF EXISTS scaleops.audit_log_default; "
            + "DROP TABLE IF EXISTS partman.template_scaleops_audit_log");
        Console.WriteLine($"\n## Maintenance on the loaded audit table ({partitions} partitions after create_parent, default partition: {(withDefault ? "yes" : "no")}; {after} after the runs), ms, median (min-max)\n");
        Console.WriteLine("| run | ScaleOps RunMaintenanceAsync | pg_partman run_maintenance | ratio |");
        Console.WriteLine("|---|---|---|---|");
        Console.WriteLine($"| nothing to do | {Stat(ours, "0.0")} | {Stat(theirs, "0.0")} | {Median(ours) / Median(theirs):0.00}x |");
        Console.WriteLine($"| recreate the 4 partitions ahead | {Stat(oursCreate, "0.0")} | {Stat(theirsCreate, "0.0")} | {Median(oursCreate) / Median(theirsCreate):0.00}x |");
    }

    /// <summary>Converting the plain table itself (the last measurement) with the live-table migrator; the swap step's time is the exclusive-lock window.</summary>
    private static async Task MigrationAsync()
    {
        await ExecAsync("CREATE TABLE bench_new (LIKE bench_plain INCLUDING DEFAULTS, PRIMARY KEY (id, occurred_at)) PARTITION BY RANGE (occurred_at)");
        using var host = Host(o =>
        {
            o.RunMaintenanceOnStart = false;
            o.Tables.Add(new PartitionedTableOptions { Name = "bench_plain", Column = "occurred_at", Premake = 4 });
        }, audit: false);
        var steps = new List<(string Step, double Ms)>();
        var sw = Stopwatch.StartNew();
        var last = 0.0;
        var progress = new InlineProgress(p =>
        {
            steps.Add((p.Step, sw.Elapsed.TotalMilliseconds - last));
            last = sw.Elapsed.TotalMilliseconds;
        });
        var result = await host.Services.GetRequiredService<ITableMigrator>().ConvertAsync("public", "bench_plain", "bench_new", progress);
        var total = sw.Elapsed.TotalMilliseconds;
        var moves = steps.Where(s => s.Step.StartsWith("move", StringComparison.Ordinal)).Select(s => s.Ms).ToList();
        Console.WriteLine("\n## Migration of the live unpartitioned table (one run)\n");
        Console.WriteLine($"{result.RowsBefore:N0} rows before, {result.RowsAfter:N0} after, {result.PeriodsMoved} periods split out; total {total / 1000:0.0} s.");
        Console.WriteLine("Steps (ms; \"swap\" is two catalog reads plus the one transaction that holds ACCESS EXCLUSIVE): " + string.Join(", ", steps.Where(s => !s.Step.StartsWith("move", StringComparison.Ordinal)).Select(s => $"{s.Step} {s.Ms:0}"))
            + (moves.Count > 0 ? $"; per-period move median {Median(moves):0} (range {moves.Min():0}-{moves.Max():0})" : ""));
    }

    /// <summary>Retention of the 12 oldest months: DELETE (rolled back, repeated) against our maintenance (detach + drop, committed once).</summary>
    private static async Task RetentionAsync()
    {
        var cut = new DateTime(Now.Year, Now.Month, 1, 0, 0, 0, DateTimeKind.Utc).AddMonths(-12);
        var deletes = new List<double>();
        for (var run = 0; run < Repeat; run++)
        {
            deletes.Add(await TimeAsync(async () =>
            {
                await using var connection = await Db.OpenConnectionAsync();
                await using var tx = await connection.BeginTransactionAsync();
                await using var delete = new NpgsqlCommand($"DELETE FROM bench_plain WHERE occurred_at < '{cut:yyyy-MM-dd}+00'", connection, tx) { CommandTimeout = 0 };
                await delete.ExecuteNonQueryAsync();
                await tx.RollbackAsync();
            }));
        }

        var rows = await ScalarAsync<long>($"SELECT count(*) FROM scaleops.audit_log WHERE occurred_at < '{cut:yyyy-MM-dd}+00'");
        using var host = Host(o => { o.RunMaintenanceOnStart = false; o.Audit.Retention = 12; });
        var maintenance = host.Services.GetRequiredService<IPartitionMaintenance>();
        var plan = await maintenance.RunMaintenanceAsync(dryRun: true);
        var ours = await TimeAsync(() => maintenance.RunMaintenanceAsync());
        Console.WriteLine("\n## Retention of the 12 oldest months\n");
        Console.WriteLine("| operation | ms | rows |");
        Console.WriteLine("|---|---|---|");
        Console.WriteLine($"| DELETE on the unpartitioned table (rolled back), median (min-max) | {Stat(deletes, "0")} | {rows:N0} |");
        Console.WriteLine($"| ScaleOps retention: detach + drop of {plan.Actions.Count(a => a.Kind == PartitionActionKind.Drop)} partitions (committed, 1 run) | {ours:0} | {rows:N0} |");
        Console.WriteLine($"| ratio DELETE / drop | {Median(deletes) / ours:0.0}x | |");
    }

    private sealed class InlineProgress(Action<ConversionProgress> report) : IProgress<ConversionProgress>
    {
        public void Report(ConversionProgress value) => report(value);
    }
}
