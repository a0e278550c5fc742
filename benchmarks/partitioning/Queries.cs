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
        string Name, string Sql, Func<NpgsqlParameter[]> Parameters, string PrunedSql, Func<NpgsqlParameter[]> PrunedParameters, string DirectSql,
        string? Fallback = null, Func<int, NpgsqlParameter[]>? FallbackParameters = null, int Limit = 0);

    /// <summary>One way of running a shape: table, SQL form, plan cache mode, prepared or not, extra settings.</summary>
    private sealed record Variant(string Name, string Table, bool Pruned, string PlanCacheMode, bool Prepared, string? Settings = null, string? OnlyFor = null,
        bool Direct = false);

    private static readonly Variant[] Variants =
    [
        new("plain, prepared", "bench_plain", Pruned: false, "auto", Prepared: true),
        new("part naive, prepared", "scaleops.audit_log", Pruned: false, "auto", Prepared: true),
        new("part pruned, prepared, generic", "scaleops.audit_log", Pruned: true, "force_generic_plan", Prepared: true),
        new("part pruned, prepared, custom", "scaleops.audit_log", Pruned: true, "force_custom_plan", Prepared: true),
        // The partitions of the range queried directly (PruningBounds.PartitionsAsync), UNION ALL when there are several.
        new("part direct partitions, prepared", "scaleops.audit_log", Pruned: true, "auto", Prepared: true, Direct: true),
        new("plain, unprepared", "bench_plain", Pruned: false, "auto", Prepared: false),
        new("part pruned, unprepared", "scaleops.audit_log", Pruned: true, "auto", Prepared: false),
        new("part pruned, prepared, generic, partitionwise agg", "scaleops.audit_log", Pruned: true, "force_generic_plan", Prepared: true,
            Settings: "SET enable_partitionwise_aggregate = on", OnlyFor: "count"),
        // A generic plan estimates one row per partition, so it sorts the rows of every partition read (the whale's
        // 20,000 in 30 days, or all 60,000 of 92 days before a constant LIMIT 50) instead of reading the partitions'
        // indexes newest-first (an ordered Append). enable_sort = off for this one statement (set_config(..., true) in
        // its batch) leaves only the ordered plan. (A LIMIT passed as a parameter, as IAuditLog.QueryAsync does, gets
        // the ordered plan without it.)
        new("part pruned, prepared, generic, enable_sort off", "scaleops.audit_log", Pruned: true, "force_generic_plan", Prepared: true,
            Settings: "SET enable_sort = off", OnlyFor: "last 30|latest"),
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

        // Listed once, before any timing: the partitions' real bounds, read from the catalog.
        async Task<string> UnionAsync(DateTime from, DateTime to, Func<string, string> select) =>
            string.Join(" UNION ALL ", (await PruningBounds.PartitionsAsync(Db, "scaleops", "audit_log", from, to)).Select(select));
        var shapes = new List<Shape>();
        foreach (var tenant in new[] { "small", "whale" })
        {
            const string last30 = "SELECT id, occurred_at, action FROM {t} WHERE tenant_id = $1 AND occurred_at >= $2 AND occurred_at < $3 ORDER BY occurred_at DESC";
            shapes.Add(new Shape($"{tenant}: last 30 days", last30, () => [Text(tenant), Time(now.AddDays(-30)), Time(now.AddMinutes(1))],
                last30, () => [Text(tenant), Time(now.AddDays(-30)), Time(now.AddMinutes(1))],
                await UnionAsync(now.AddDays(-30), now.AddMinutes(1), p => $"SELECT id, occurred_at, action FROM {p} WHERE tenant_id = $1 AND occurred_at >= $2 AND occurred_at < $3")
                + " ORDER BY occurred_at DESC"));
            // Pruned: the last 3 months first (both bounds, so the partitions ahead are pruned too), then, only when
            // fewer than 50 came back, the older rows.
            shapes.Add(new Shape($"{tenant}: latest 50", "SELECT id, occurred_at, action FROM {t} WHERE tenant_id = $1 ORDER BY occurred_at DESC LIMIT 50",
                () => [Text(tenant)],
                "SELECT id, occurred_at, action FROM {t} WHERE tenant_id = $1 AND occurred_at >= $2 AND occurred_at < $3 ORDER BY occurred_at DESC LIMIT 50",
                () => [Text(tenant), Time(recentFrom), Time(recentTo)],
                await UnionAsync(recentFrom, recentTo, p => $"(SELECT id, occurred_at, action FROM {p} WHERE tenant_id = $1 AND occurred_at >= $2 AND occurred_at < $3 ORDER BY occurred_at DESC LIMIT 50)")
                + " ORDER BY occurred_at DESC LIMIT 50",
                Fallback: "SELECT id, occurred_at, action FROM {t} WHERE tenant_id = $1 AND occurred_at < $2 ORDER BY occurred_at DESC LIMIT $3",
                FallbackParameters: missing => [Text(tenant), Time(recentFrom), Int(missing)], Limit: 50));
        }

        const string countSql = "SELECT date_trunc('day', occurred_at), count(*) FROM {t} WHERE occurred_at >= $1 AND occurred_at < $2 GROUP BY 1";
        shapes.Add(new Shape("count by day, 7 days", countSql, () => [Time(now.AddDays(-7)), Time(now.AddMinutes(1))],
            countSql, () => [Time(now.AddDays(-7)), Time(now.AddMinutes(1))],
            "SELECT date_trunc('day', occurred_at), count(*) FROM ("
            + await UnionAsync(now.AddDays(-7), now.AddMinutes(1), p => $"SELECT occurred_at FROM {p} WHERE occurred_at >= $1 AND occurred_at < $2") + ") s GROUP BY 1"));
        // Pruned: the UUIDv7's own millisecond bounds the partition key (PruningBounds.FromUuidV7, as IAuditLog.FindAsync does).
        shapes.Add(new Shape("lookup by id", "SELECT id, occurred_at, action FROM {t} WHERE id = $1", () => [new NpgsqlParameter<Guid> { TypedValue = someId }],
            "SELECT id, occurred_at, action FROM {t} WHERE id = $1 AND occurred_at >= $2 AND occurred_at < $3",
            () => [new NpgsqlParameter<Guid> { TypedValue = someId }, Time(idFrom), Time(idTo)],
            await UnionAsync(idFrom, idTo, p => $"SELECT id, occurred_at, action FROM {p} WHERE id = $1 AND occurred_at >= $2 AND occurred_at < $3")));

        Console.WriteLine($"\n## Query shapes: {title}\n");
        Console.WriteLine($"Latency per query in µs, median of {Repeat} blocks' medians (min-max of the block medians). Within a block every variant runs once per round, "
            + "in rotating order, on its own connection, so load swings hit all variants alike. Ratio = plain latency / variant latency per block, median (min-max): "
            + "1.00x is parity, below 1 slower. Prepared variants are compared with plain prepared, unprepared with plain unprepared.\n");
        var headers = Variants.Select(v => v.Name + (v.Name.StartsWith("plain", StringComparison.Ordinal) ? "" : " | ratio")).ToList();
        var header = "| shape | rows | " + string.Join(" | ", headers) + " |";
        Console.WriteLine(header);
        Console.WriteLine("|" + string.Concat(Enumerable.Repeat("---|", header.Count(c => c == '|') - 1)));
        foreach (var shape in shapes)
        {
            var variants = Variants.Where(v => v.OnlyFor is null || v.OnlyFor.Split('|').Any(o => shape.Name.Contains(o, StringComparison.Ordinal))).ToList();
            var runners = new List<Runner>();
            foreach (var variant in variants)
            {
                runners.Add(await Runner.OpenAsync(shape, variant));
            }

            var rows = new Dictionary<string, int>();
            var blocks = variants.ToDictionary(v => v.Name, _ => new List<double>());
            try
            {
                foreach (var runner in runners)
                {
                    for (var i = 0; i < 3; i++)
                    {
                        rows[runner.Variant.Name] = await runner.ExecuteAsync(); // warm-up: plans, caches
                    }
                }

                for (var block = 0; block < Repeat; block++)
                {
                    var latencies = runners.ToDictionary(r => r.Variant.Name, _ => new List<double>());
                    var sw = Stopwatch.StartNew();
                    for (var round = 0; sw.Elapsed.TotalSeconds < Seconds * runners.Count; round++)
                    {
                        for (var k = 0; k < runners.Count; k++)
                        {
                            var runner = runners[(round + k) % runners.Count];
                            var start = Stopwatch.GetTimestamp();
                            rows[runner.Variant.Name] = await runner.ExecuteAsync();
                            latencies[runner.Variant.Name].Add(Stopwatch.GetElapsedTime(start).TotalMicroseconds);
                        }
                    }

                    foreach (var (name, list) in latencies)
                    {
                        blocks[name].Add(Median(list));
                    }
                }
            }
            finally
            {
                foreach (var runner in runners)
                {
                    await runner.DisposeAsync();
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
                return Stat(blocks[baseline].Zip(blocks[v.Name], (u, p) => u / p).ToList(), "0.00") + "x";
            }

            var cells = Variants.Select(v => !blocks.ContainsKey(v.Name) ? " | " : Stat(blocks[v.Name]) + (v.Name.StartsWith("plain", StringComparison.Ordinal) ? "" : " | " + Ratio(v)));
            Console.WriteLine($"| {shape.Name} | {(partRows[0] == plainRows ? plainRows.ToString("N0", CultureInfo.InvariantCulture) : $"{plainRows:N0} / {partRows[0]:N0}")} | {string.Join(" | ", cells)} |");
        }
    }

    /// <summary>One variant of one shape on its own connection: settings applied, statements prepared when the variant says so.</summary>
    private sealed class Runner : IAsyncDisposable
    {
        private NpgsqlConnection _connection = null!;
        private NpgsqlCommand _command = null!;
        private NpgsqlCommand? _fallback;
        private Shape _shape = null!;

        public Variant Variant { get; private init; } = null!;

        public static async Task<Runner> OpenAsync(Shape shape, Variant variant)
        {
            var runner = new Runner { Variant = variant, _shape = shape, _connection = await Db.OpenConnectionAsync() };
            await using (var mode = new NpgsqlCommand($"SET plan_cache_mode = {variant.PlanCacheMode}; {variant.Settings}", runner._connection))
            {
                await mode.ExecuteNonQueryAsync();
            }

            var sql = variant.Direct ? shape.DirectSql : (variant.Pruned ? shape.PrunedSql : shape.Sql).Replace("{t}", variant.Table, StringComparison.Ordinal);
            runner._command = new NpgsqlCommand(sql, runner._connection);
            runner._command.Parameters.AddRange(variant.Pruned ? shape.PrunedParameters() : shape.Parameters());
            if (variant.Pruned && shape.Fallback is not null)
            {
                runner._fallback = new NpgsqlCommand(shape.Fallback.Replace("{t}", variant.Table, StringComparison.Ordinal), runner._connection);
                runner._fallback.Parameters.AddRange(shape.FallbackParameters!(1));
            }

            if (variant.Prepared)
            {
                await runner._command.PrepareAsync();
                if (runner._fallback is not null)
                {
                    await runner._fallback.PrepareAsync();
                }
            }

            return runner;
        }

        /// <summary>Runs the shape once (the fallback too when the first step returned fewer than the limit); returns the rows read.</summary>
        public async Task<int> ExecuteAsync()
        {
            var rows = 0;
            await using (var reader = await _command.ExecuteReaderAsync())
            {
                while (await reader.ReadAsync())
                {
                    rows++;
                }
            }

            if (_fallback is not null && rows < _shape.Limit)
            {
                _fallback.Parameters[2].Value = _shape.Limit - rows;
                await using var reader = await _fallback.ExecuteReaderAsync();
                while (await reader.ReadAsync())
                {
                    rows++;
                }
            }

            return rows;
        }

        public async ValueTask DisposeAsync()
        {
            await _command.DisposeAsync();
            if (_fallback is not null)
            {
                await _fallback.DisposeAsync();
            }

            await _connection.DisposeAsync();
        }
    }
}
