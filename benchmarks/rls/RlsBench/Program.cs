using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.Linq;
using System.Threading.Tasks;
using Npgsql;
using ScaleOps.Benchmarks.Rls;
using ScaleOps.TestInfrastructure;

namespace ScaleOps.RlsBench;

/// <summary>
/// The interleaved RLS request benchmark for a noisy shared machine: for each tenant and query, rounds in which every
/// variant runs a block of whole requests (order rotated each round); per-round medians; ratios to the baseline are
/// taken inside each round, then the median and range over rounds are reported. Server-side mean execution time of
/// the query itself comes from pg_stat_statements (one role per variant), which client scheduling does not affect.
/// </summary>
public static class Program
{
    private const int Rounds = 7;

    public static async Task Main(string[] args)
    {
        await RlsBenchmarkData.EnsureAsync();
        if (args.Contains("--profile"))
        {
            await Profile.RunAsync();
            return;
        }

        if (args.Contains("--ef-save"))
        {
            await EfSave.RunAsync();
            return;
        }

        await using (var admin = await PostgresServer.OpenAdminAsync(RlsBenchmarkData.Database))
        {
            foreach (var sql in new[]
                     {
                         "DO $$ BEGIN CREATE ROLE bench_naive LOGIN NOSUPERUSER NOBYPASSRLS; EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$",
                         "GRANT SELECT ON events TO bench_naive",
                         "ALTER POLICY ours ON events TO bench_app, bench_naive",
                     })
            {
                await using var command = new NpgsqlCommand(sql, admin);
                await command.ExecuteNonQueryAsync();
            }
        }

        Console.WriteLine($"rows={RlsBenchmarkData.Rows:N0}, rounds={Rounds}, connection extras='{RlsBenchmarkData.Extra}', started {DateTime.UtcNow:u}, load {LoadAverage()}");
        Console.WriteLine();
        Console.WriteLine("| tenant / query | variant | latency µs, median [range] | latency ratio, median [range] | CPU µs/request (client + backends), median [range] | CPU ratio, median [range] | server exec µs (pg_stat_statements) |");
        Console.WriteLine("|---|---|---|---|---|---|---|");
        foreach (var tenant in new[] { "small", "whale" })
        {
            foreach (var query in new[] { "latest50", "point", "count30" })
            {
                await RunAsync(tenant, query);
            }
        }

        Console.WriteLine();
        Console.WriteLine($"finished {DateTime.UtcNow:u}, load {LoadAverage()}");
    }

    internal static string LoadAverage()
    {
        try
        {
            return System.IO.File.ReadAllText("/proc/loadavg").Trim();
        }
        catch (System.IO.IOException)
        {
            return "?";
        }
    }

    private static async Task RunAsync(string tenantName, string query)
    {
        await using var bench = await Variants.CreateAsync(tenantName, query);
        var variants = bench.All;
        foreach (var v in variants)
        {
            for (var i = 0; i < (v.Slow ? 1 : 20); i++)
            {
                await v.Run();
            }
        }

        var probe = Stopwatch.StartNew();
        for (var i = 0; i < 10; i++)
        {
            await variants[0].Run();
        }

        var perRequest = probe.Elapsed.TotalMilliseconds / 10;
        var block = Math.Clamp((int)(250 / Math.Max(perRequest, 0.01)), 5, 200);
        await ResetStatementsAsync();

        var medians = variants.ToDictionary(v => v.Name, _ => new List<double>());
        var ratios = variants.ToDictionary(v => v.Name, _ => new List<double>());
        var cpus = variants.ToDictionary(v => v.Name, _ => new List<double>());
        var cpuRatios = variants.ToDictionary(v => v.Name, _ => new List<double>());
        await using var admin = await PostgresServer.OpenAdminAsync();
        for (var round = 0; round < Rounds; round++)
        {
            var order = variants.Skip(round % variants.Length).Concat(variants.Take(round % variants.Length)).ToArray();
            var roundMedian = new Dictionary<string, double>();
            var roundCpu = new Dictionary<string, double>();
            foreach (var v in order)
            {
                var samples = new List<double>();
                var count = v.Slow ? 2 : block;
                var backendsBefore = await Cpu.BackendsAsync(admin, v.Role);
                var clientBefore = Cpu.ClientNs();
                for (var i = 0; i < count; i++)
                {
                    var start = Stopwatch.GetTimestamp();
                    await v.Run();
                    samples.Add(Stopwatch.GetElapsedTime(start).TotalMicroseconds);
                }

                var clientNs = Cpu.ClientNs() - clientBefore;
                var backendNs = Cpu.Delta(backendsBefore, await Cpu.BackendsAsync(admin, v.Role));
                roundMedian[v.Name] = Median(samples);
                roundCpu[v.Name] = (clientNs + backendNs) / 1000.0 / count;
            }

            foreach (var v in variants)
            {
                medians[v.Name].Add(roundMedian[v.Name]);
                ratios[v.Name].Add(roundMedian[v.Name] / roundMedian[variants[0].Name]);
                cpus[v.Name].Add(roundCpu[v.Name]);
                cpuRatios[v.Name].Add(roundCpu[v.Name] / roundCpu[variants[0].Name]);
            }
        }

        var server = await ServerTimesAsync();
        foreach (var v in variants)
        {
            var m = medians[v.Name];
            var r = ratios[v.Name];
            var c = cpus[v.Name];
            var cr = cpuRatios[v.Name];
            var exec = server.TryGetValue(v.Role, out var t) ? t.ToString("N1", CultureInfo.InvariantCulture) : "?";
            Console.WriteLine(FormattableString.Invariant(
                $"| {tenantName} {query} | {v.Name} | {Median(m):N0} [{m.Min():N0}-{m.Max():N0}] | {Median(r):0.00}x [{r.Min():0.00}-{r.Max():0.00}] | {Median(c):N0} [{c.Min():N0}-{c.Max():N0}] | {Median(cr):0.00}x [{cr.Min():0.00}-{cr.Max():0.00}] | {exec} |"));
        }
    }

    internal static double Median(List<double> values)
    {
        var sorted = values.Order().ToList();
        var mid = sorted.Count / 2;
        return sorted.Count % 2 == 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
    }

    private static async Task ResetStatementsAsync()
    {
        await using var admin = await PostgresServer.OpenAdminAsync();
        await using var command = new NpgsqlCommand("SELECT pg_stat_statements_reset()", admin);
        await command.ExecuteNonQueryAsync();
    }

    // Mean execution time of the events query per role (the context call, BEGIN and COMMIT are other statements).
    private static async Task<Dictionary<string, double>> ServerTimesAsync()
    {
        await using var admin = await PostgresServer.OpenAdminAsync();
        await using var command = new NpgsqlCommand(
            "SELECT r.rolname, sum(s.mean_exec_time * s.calls) / nullif(sum(s.calls), 0) * 1000 FROM pg_stat_statements s "
            + "JOIN pg_roles r ON r.oid = s.userid JOIN pg_database d ON d.oid = s.dbid "
            + "WHERE d.datname = $1 AND s.query ILIKE '%FROM events%' GROUP BY r.rolname", admin);
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = RlsBenchmarkData.Database });
        var result = new Dictionary<string, double>(StringComparer.Ordinal);
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync())
        {
            result[reader.GetString(0)] = reader.IsDBNull(1) ? double.NaN : reader.GetDouble(1);
        }

        return result;
    }
}
