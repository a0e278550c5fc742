using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.Linq;
using System.Threading.Tasks;
using Npgsql;
using ScaleOps.TestInfrastructure;

namespace ScaleOps.Benchmarks.Partitioning;

/// <summary>Loads the data, runs every measurement, prints markdown. See run.sh.</summary>
public static partial class Program
{
    internal static int Rows = 5_000_000;
    internal static int Repeat = 5;
    internal static double Seconds = 2;
    internal static NpgsqlDataSource Db = null!;
    internal static string Database = "bench_partitioning";
    internal static string? Only;
    internal static bool Reuse;
    internal static string ConnectionString = "";

    public static async Task Main(string[] args)
    {
        for (var i = 0; i + 1 < args.Length; i += 2)
        {
            switch (args[i])
            {
                case "--rows": Rows = int.Parse(args[i + 1], CultureInfo.InvariantCulture); break;
                case "--repeat": Repeat = int.Parse(args[i + 1], CultureInfo.InvariantCulture); break;
                case "--seconds": Seconds = double.Parse(args[i + 1], CultureInfo.InvariantCulture); break;
                case "--database": Database = args[i + 1]; break;
                case "--only": Only = args[i + 1]; break;
                case "--reuse": Reuse = args[i + 1] == "yes"; break;
            }
        }

        if (!System.Text.RegularExpressions.Regex.IsMatch(Database, "^[a-z_][a-z0-9_]{0,62}$"))
        {
            throw new ArgumentException($"--database '{Database}' must be a plain lowercase identifier.");
        }

        if (!Reuse)
        {
            await PostgresServer.ExecuteAsync($"DROP DATABASE IF EXISTS {Database} WITH (FORCE)");
            await PostgresServer.ExecuteAsync($"CREATE DATABASE {Database}");
        }

        ConnectionString = PostgresServer.ConnectionStringFor(Database);
        Db = NpgsqlDataSource.Create(ConnectionString);
        Console.WriteLine($"# Partitioning benchmark: {Rows:N0} audit rows over 24 months, {Repeat} repeats (blocks), {Seconds} s per variant per block of query measurements");
        Console.WriteLine($"machine: {Environment.ProcessorCount} cores, load average {Load()}; {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC");

        var load = Stopwatch.StartNew();
        if (!Reuse)
        {
            await LoadAsync();
        }

        Console.WriteLine($"\nload: {load.Elapsed.TotalSeconds:0} s; sizes: plain {await SizeAsync("bench_plain")}, partitioned {await SizeAsync("scaleops.audit_log")}");
        if (Only == "load")
        {
            return; // --only load: leave the loaded database for manual EXPLAIN work
        }


        await Phase("queries, 29 partitions", () => QueriesAsync("29 monthly partitions attached (24 back, current, 4 ahead)"));
        await Phase("ingest", IngestAsync);
        await Phase("maintenance", MaintenanceAsync);
        await Phase("retention", RetentionAsync);
        await Phase("queries, 17 partitions", () => QueriesAsync("after retention: 17 partitions attached (12 back, current, 4 ahead); the plain table keeps 24 months"));
        await Phase("audit writer", AuditWriterAsync);
        await Phase("migration", MigrationAsync);
        Console.WriteLine($"\nload average at the end: {Load()}");
    }

    private static async Task Phase(string name, Func<Task> phase)
    {
        // --only queries: the query passes and the retention between them (which the second pass needs);
        // --only "queries, 29": the first pass alone.
        if (Only is not null && !name.StartsWith(Only, StringComparison.Ordinal) && !(Only == "queries" && name == "retention"))
        {
            return;
        }

        var sw = Stopwatch.StartNew();
        await phase();
        Console.Error.WriteLine($"[bench] {name}: {sw.Elapsed.TotalSeconds:0} s, load average {Load()}");
        Console.WriteLine($"\n({name}: {sw.Elapsed.TotalSeconds:0} s, load average {Load()} at its end)");
    }

    internal static string Load() => System.IO.File.Exists("/proc/loadavg") ? System.IO.File.ReadAllText("/proc/loadavg").Split(' ')[0] : "?";

    internal static async Task ExecAsync(string sql, int timeoutSeconds = 0)
    {
        await using var command = Db.CreateCommand(sql);
        command.CommandTimeout = timeoutSeconds;
        await command.ExecuteNonQueryAsync();
    }

    internal static async Task<T> ScalarAsync<T>(string sql)
    {
        await using var command = Db.CreateCommand(sql);
        command.CommandTimeout = 0;
        return (T)(await command.ExecuteScalarAsync())!;
    }

    internal static Task<string> SizeAsync(string table) => ScalarAsync<string>($"SELECT pg_size_pretty(pg_total_relation_size('{table}'::regclass) + "
        + $"coalesce((SELECT sum(pg_total_relation_size(inhrelid)) FROM pg_inherits WHERE inhparent = '{table}'::regclass), 0)::bigint)");

    /// <summary>Median and range of samples, formatted.</summary>
    internal static string Stat(IReadOnlyList<double> samples, string format = "N0")
    {
        var sorted = samples.Order().ToList();
        return $"{Median(sorted).ToString(format, CultureInfo.InvariantCulture)} ({sorted[0].ToString(format, CultureInfo.InvariantCulture)}-"
            + $"{sorted[^1].ToString(format, CultureInfo.InvariantCulture)})";
    }

    internal static double Median(IReadOnlyList<double> samples)
    {
        var sorted = samples.Order().ToList();
        return sorted.Count % 2 == 1 ? sorted[sorted.Count / 2] : (sorted[(sorted.Count / 2) - 1] + sorted[sorted.Count / 2]) / 2;
    }

    internal static async Task<double> TimeAsync(Func<Task> action)
    {
        var sw = Stopwatch.StartNew();
        await action();
        return sw.Elapsed.TotalMilliseconds;
    }
}
