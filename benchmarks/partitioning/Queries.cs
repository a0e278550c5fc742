using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.Linq;
using System.Threading.Tasks;
using Npgsql;
using NpgsqlTypes;
using ScaleOps.Partitioning.Queries;

namespace ScaleOps.Benchmarks.Partitioning;

public static partial class Program
{
    /// <summary>
    /// A query shape. <c>Sql</c> is what an application writes against the plain table; <c>PrunedSql</c> the
    /// pruning-friendly form recommended for the partitioned table (the same rows), <c>Fallback</c> its second step
    /// when the first returns fewer than the limit ("latest 50": search the window first, then older rows).
    /// </summary>
    private sealed record Shape(
        string Name, string Sql, Func<NpgsqlParameter[]> Parameters, string PrunedSql, Func<NpgsqlParameter[]> PrunedParameters,
        string? Fallback = null, Func<int, NpgsqlParameter[]>? FallbackParameters = null, int Limit = 0);

    /// <summary>One way of running a shape: table, SQL form, plan cache mode, prepared or not, extra settings.</summary>
    private sealed record Variant(string Name, string Table, bool Pruned, string PlanCacheMode, bool Prepared, string? Settings = null, bool AggregateOnly = false);

    private static readonly Variant[] Variants =
    [
        new("plain, prepared", "bench_plain", Pruned: false, "auto", Prepared: true),
        new("part naive, prepared", "scaleops.audit_log", Pruned: false, "auto", Prepared: true),
        new("part pruned, prepared, generic", "scaleops.audit_log", Pruned: true, "force_generic_plan", Prepared: true),
        new("part pruned, prepared, custom", "scaleops.audit_log", Pruned: true, "force_custom_plan", Prepared: true),
        new("plain, unprepared", "bench_plain", Pruned: false, "auto", Prepared: false),
        new("part pruned, unprepared", "scaleops.audit_log", Pruned: true, "auto", Prepared: false),
        new("part pruned, prepared, generic, partitionwise agg", "scaleops.audit_log", Pruned: true, "force_generic_plan", Prepared: true,
            Settings: "SET enable_partitionwise_aggregate = on", AggregateOnly: true),
    ];

    /// <summary>
    /// Queries per second on one connection for every shape and variant. Runs are interleaved (the variant order
    /// alternates), each repeated; a ratio is the median of the per-run ratios to the plain table in the same round
    /// (prepared variants to "plain, prepared", unprepared to "plain, unprepared").
    /// </summary>
    private static async Task QueriesAsync(string title)
    {
        var now = Now;
        NpgsqlParameter Time(DateTime value) => new NpgsqlParameter<DateTime> { TypedValue = value, NpgsqlDbType = NpgsqlDbType.TimestampTz };
        NpgsqlParameter Text(string value) => new NpgsqlParameter<string> { TypedValue = value };
        NpgsqlParameter Int(int value) => new NpgsqlParameter<int> { TypedValue = value };
        var someId = await ScalarAsync<Guid>("SELECT id FROM bench_plain WHERE tenant_id = 'small' ORDER BY occurred_at DESC OFFSET 3 LIMIT 1");
        var (idFrom, idTo) = PruningBounds.FromUuidV7(someId);
        var (recentFrom, recentTo) = PruningBounds.Recent(now, TimeSpan.FromDays(92), TimeSpan.FromMinutes(1));

        var shapes = new List<Shape>();
        foreach (var tenant in new[] { "small", "whale" })
        {
            const string last30 = "SELECT id, occurred_at, action FROM {t} WHERE tenant_id = $1 AND occurred_at >= $2 AND occurred_at < $3 ORDER BY occurred_at DESC";
            shapes.Add(new Shape($"{tenant}: last 30 days", last30, () => [Text(tenant), Time(now.AddDays(-30)), Time(now.AddMinutes(1))],
                last30, () => [Text(tenant), Time(now.AddDays(-30)), Time(now.AddMinutes(1))]));
            // Pruned: the last 3 months first (both bounds, so the partitions ahead are pruned too), then, only when
            // fewer than 50 came back, the older rows.
            shapes.Add(new Shape($"{tenant}: latest 50", "SELECT id, occurred_at, action FROM {t} WHERE tenant_id = $1 ORDER BY occurred_at DESC LIMIT 50",
                () => [Text(tenant)],
                "SELECT id, occurred_at, action FROM {t} WHERE tenant_id = $1 AND occurred_at >= $2 AND occurred_at < $3 ORDER BY occurred_at DESC LIMIT 50",
                () => [Text(tenant), Time(recentFrom), Time(recentTo)],
                Fallback: "SELECT id, occurred_at, action FROM {t} WHERE tenant_id = $1 AND occurred_at < $2 ORDER BY occurred_at DESC LIMIT $3",
                FallbackParameters: missing => [Text(tenant), Time(recentFrom), Int(missing)], Limit: 50));
        }

        const string countSql = "SELECT date_trunc('day', occurred_at), count(*) FROM {t} WHERE occurred_at >= $1 AND occurred_at < $2 GROUP BY 1";
        shapes.Add(new Shape("count by day, 7 days", countSql, () => [Time(now.AddDays(-7)), Time(now.AddMinutes(1))],
            countSql, () => [Time(now.AddDays(-7)), Time(now.AddMinutes(1))]));
        // Pruned: the UUIDv7's own millisecond bounds the partition key (PruningBounds.FromUuidV7, as IAuditLog.FindAsync does).
        shapes.Add(new Shape("lookup by id", "SELECT id, occurred_at, action FROM {t} WHERE id = $1", () => [new NpgsqlParameter<Guid> { TypedValue = someId }],
            "SELECT id, occurred_at, action FROM {t} WHERE id = $1 AND occurred_at >= $2 AND occurred_at < $3",
            () => [new NpgsqlParameter<Guid> { TypedValue = someId }, Time(idFrom), Time(idTo)]));

        Console.WriteLine($"\n## Query shapes: {title}\n");
        Console.WriteLine("Queries/s on one connection, median (min-max) of the runs; ratio = median of per-run ratios (prepared variants to plain prepared, "
            + "unprepared to plain unprepared).\n");
        Console.WriteLine("| shape | rows | " + string.Join(" | ", Variants.Where(v => !v.AggregateOnly).Select(v => v.Name + (v.Name.StartsWith("plain", StringComparison.Ordinal) ? "" : " | ratio")))
            + " | " + Variants.Single(v => v.AggregateOnly).Name + " | ratio |");
        Console.WriteLine("|" + string.Concat(Enumerable.Repeat("---|", 2 + Variants.Count(v => !v.AggregateOnly) * 2 - 2 + 2)));
        foreach (var shape in shapes)
        {
            var variants = Variants.Where(v => !v.AggregateOnly || shape.Name.StartsWith("count", StringComparison.Ordinal)).ToList();
            var samples = variants.ToDictionary(v => v.Name, _ => new List<double>());
            var rows = new Dictionary<string, int>();
            for (var run = 0; run < Repeat; run++)
            {
                foreach (var variant in run % 2 == 0 ? variants : Enumerable.Reverse(variants))
                {
                    var (qps, n) = await QpsAsync(shape, variant);
                    samples[variant.Name].Add(qps);
                    rows[variant.Name] = n;
                }
            }

            // Every variant must return the same rows; after retention the partitioned table holds 12 months fewer,
            // so a shape that reaches back further than that may differ (shown as plain / partitioned).
            var plainRows = rows["plain, prepared"];
            var partRows = rows.Where(r => !r.Key.StartsWith("plain", StringComparison.Ordinal)).Select(r => r.Value).Distinct().ToList();
            if (partRows.Count != 1 || rows["plain, unprepared"] != plainRows || (partRows[0] != plainRows && !title.Contains("retention", StringComparison.Ordinal)))
            {
                throw new InvalidOperationException($"{shape.Name}: the variants returned different row counts: {string.Join(", ", rows.Select(r => $"{r.Key} {r.Value}"))}");
            }

            string Ratio(Variant v)
            {
                var baseline = v.Prepared ? "plain, prepared" : "plain, unprepared";
                return Median(samples[v.Name].Zip(samples[baseline], (p, u) => p / u).ToList()).ToString("0.00x", CultureInfo.InvariantCulture);
            }

            var cells = variants.Where(v => !v.AggregateOnly).Select(v => Stat(samples[v.Name]) + (v.Name.StartsWith("plain", StringComparison.Ordinal) ? "" : " | " + Ratio(v)));
            var aggregate = variants.FirstOrDefault(v => v.AggregateOnly);
            Console.WriteLine($"| {shape.Name} | {(partRows[0] == plainRows ? plainRows.ToString("N0", CultureInfo.InvariantCulture) : $"{plainRows:N0} / {partRows[0]:N0}")} | {string.Join(" | ", cells)} | "
                + (aggregate is null ? " | |" : $"{Stat(samples[aggregate.Name])} | {Ratio(aggregate)} |"));
        }
    }

    private static async Task<(double Qps, int Rows)> QpsAsync(Shape shape, Variant variant)
    {
        await using var connection = await Db.OpenConnectionAsync();
        await using (var mode = new NpgsqlCommand($"SET plan_cache_mode = {variant.PlanCacheMode}; {variant.Settings}", connection))
        {
            await mode.ExecuteNonQueryAsync();
        }

        var sql = (variant.Pruned ? shape.PrunedSql : shape.Sql).Replace("{t}", variant.Table, StringComparison.Ordinal);
        await using var command = new NpgsqlCommand(sql, connection);
        command.Parameters.AddRange(variant.Pruned ? shape.PrunedParameters() : shape.Parameters());
        NpgsqlCommand? fallback = null;
        if (variant.Pruned && shape.Fallback is not null)
        {
            fallback = new NpgsqlCommand(shape.Fallback.Replace("{t}", variant.Table, StringComparison.Ordinal), connection);
            fallback.Parameters.AddRange(shape.FallbackParameters!(1));
        }

        if (variant.Prepared)
        {
            await command.PrepareAsync();
            if (fallback is not null)
            {
                await fallback.PrepareAsync();
            }
        }

        var count = 0;
        var rows = 0;
        var sw = Stopwatch.StartNew();
        while (sw.Elapsed.TotalSeconds < Seconds)
        {
            rows = 0;
            await using (var reader = await command.ExecuteReaderAsync())
            {
                while (await reader.ReadAsync())
                {
                    rows++;
                }
            }

            if (fallback is not null && rows < shape.Limit)
            {
                fallback.Parameters[2].Value = shape.Limit - rows;
                await using var reader = await fallback.ExecuteReaderAsync();
                while (await reader.ReadAsync())
                {
                    rows++;
                }
            }

            count++;
        }

        var qps = count / sw.Elapsed.TotalSeconds;
        if (fallback is not null)
        {
            await fallback.DisposeAsync();
        }

        return (qps, rows);
    }
}
