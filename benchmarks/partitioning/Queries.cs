using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Linq;
using System.Threading.Tasks;
using Npgsql;
using NpgsqlTypes;

namespace ScaleOps.Benchmarks.Partitioning;

public static partial class Program
{
    private sealed record Shape(string Name, string Sql, Func<NpgsqlParameter[]> Parameters);

    private sealed record Variant(string Name, string Table, bool Generic, bool Recommended);

    /// <summary>
    /// Queries per second on one connection, prepared statements. Variants: the plain table; the partitioned table
    /// queried naively (plan_cache_mode auto); and the recommended setup (force_generic_plan, pruning-friendly forms).
    /// Runs are interleaved; the ratio is the median of per-run ratios to the plain table.
    /// </summary>
    private static async Task QueriesAsync()
    {
        var now = Now;
        NpgsqlParameter Time(DateTime value) => new NpgsqlParameter<DateTime> { TypedValue = value, NpgsqlDbType = NpgsqlDbType.TimestampTz };
        NpgsqlParameter Text(string value) => new NpgsqlParameter<string> { TypedValue = value };
        var someId = await ScalarAsync<Guid>("SELECT id FROM bench_plain WHERE tenant_id = 'small' ORDER BY occurred_at DESC LIMIT 1");
        var someTime = await ScalarAsync<DateTime>($"SELECT occurred_at FROM bench_plain WHERE id = '{someId}'");

        var shapes = new List<(Shape Shape, string? RecommendedSql)>();
        foreach (var tenant in new[] { "small", "whale" })
        {
            shapes.Add((new Shape($"{tenant}: last 30 days", "SELECT id, occurred_at, action FROM {t} WHERE tenant_id = $1 AND occurred_at >= $2 AND occurred_at < $3 ORDER BY occurred_at DESC",
                () => [Text(tenant), Time(now.AddDays(-30)), Time(now.AddMinutes(1))]), null));
            shapes.Add((new Shape($"{tenant}: latest 50", "SELECT id, occurred_at, action FROM {t} WHERE tenant_id = $1 ORDER BY occurred_at DESC LIMIT 50",
                () => [Text(tenant)]),
                // Recommended: bound the search by time (the last 3 months here; widen only when fewer than 50 come back).
                "SELECT id, occurred_at, action FROM {t} WHERE tenant_id = $1 AND occurred_at >= now() - interval '3 months' ORDER BY occurred_at DESC LIMIT 50"));
        }

        shapes.Add((new Shape("count by day, 7 days", "SELECT date_trunc('day', occurred_at), count(*) FROM {t} WHERE occurred_at >= $1 AND occurred_at < $2 GROUP BY 1",
            () => [Time(now.AddDays(-7)), Time(now.AddMinutes(1))]), null));
        shapes.Add((new Shape("lookup by id", "SELECT action FROM {t} WHERE id = $1", () => [new NpgsqlParameter<Guid> { TypedValue = someId }]),
            // Recommended: the UUIDv7's own timestamp bounds the partition (what IAuditLog.FindAsync does).
            "SELECT action FROM {t} WHERE id = $1 AND occurred_at >= $2 AND occurred_at < $3"));

        var variants = new[]
        {
            new Variant("unpartitioned", "bench_plain", Generic: false, Recommended: false),
            new Variant("partitioned, naive", "scaleops.audit_log", Generic: false, Recommended: false),
            new Variant("partitioned, recommended", "scaleops.audit_log", Generic: true, Recommended: true),
        };

        Console.WriteLine("\n## Query shapes (queries/s on one connection, prepared; median (min-max); ratio = median of per-run ratios)\n");
        Console.WriteLine("| shape | unpartitioned | partitioned, naive | ratio | partitioned, recommended | ratio |");
        Console.WriteLine("|---|---|---|---|---|---|");
        foreach (var (shape, recommendedSql) in shapes)
        {
            var samples = variants.ToDictionary(v => v.Name, _ => new List<double>());
            for (var run = 0; run < Repeat; run++)
            {
                foreach (var variant in run % 2 == 0 ? variants : variants.Reverse())
                {
                    var sql = (variant.Recommended && recommendedSql is not null ? recommendedSql : shape.Sql).Replace("{t}", variant.Table, StringComparison.Ordinal);
                    var parameters = variant.Recommended && shape.Name == "lookup by id"
                        ? () => (NpgsqlParameter[])[new NpgsqlParameter<Guid> { TypedValue = someId }, Time(someTime.AddMilliseconds(-1)), Time(someTime.AddMilliseconds(1))]
                        : shape.Parameters;
                    samples[variant.Name].Add(await QpsAsync(sql, parameters, variant.Generic));
                }
            }

            string Ratio(string name) => Median(samples[name].Zip(samples["unpartitioned"], (p, u) => p / u).ToList()).ToString("0.00x", System.Globalization.CultureInfo.InvariantCulture);
            Console.WriteLine($"| {shape.Name} | {Stat(samples["unpartitioned"])} | {Stat(samples["partitioned, naive"])} | {Ratio("partitioned, naive")} "
                + $"| {Stat(samples["partitioned, recommended"])} | {Ratio("partitioned, recommended")} |");
        }
    }

    private static async Task<double> QpsAsync(string sql, Func<NpgsqlParameter[]> parameters, bool generic)
    {
        await using var connection = await Db.OpenConnectionAsync();
        await using (var mode = new NpgsqlCommand($"SET plan_cache_mode = {(generic ? "force_generic_plan" : "auto")}", connection))
        {
            await mode.ExecuteNonQueryAsync();
        }

        await using var command = new NpgsqlCommand(sql, connection);
        command.Parameters.AddRange(parameters());
        await command.PrepareAsync();
        var count = 0;
        var sw = Stopwatch.StartNew();
        while (sw.Elapsed.TotalSeconds < Seconds)
        {
            await using var reader = await command.ExecuteReaderAsync();
            while (await reader.ReadAsync())
            {
            }

            count++;
        }

        var qps = count / sw.Elapsed.TotalSeconds;
        await command.UnprepareAsync();
        return qps;
    }
}
