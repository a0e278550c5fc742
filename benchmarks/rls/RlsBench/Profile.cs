using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Threading.Tasks;
using Npgsql;
using Microsoft.Extensions.DependencyInjection;
using NpgsqlTypes;
using ScaleOps.Benchmarks.Rls;
using ScaleOps.Data;
using ScaleOps.Tenancy;
using ScaleOps.TestInfrastructure;

namespace ScaleOps.RlsBench;

/// <summary>
/// <c>run.sh --profile</c>: where the request-level overhead comes from. Every variant runs on a pool of ONE connection,
/// so one backend serves it; per request we count wall time, the client process's CPU time (getrusage) and that backend's CPU time
/// (<c>/proc/PID/schedstat</c>, nanoseconds of CPU actually used, which a busy machine's scheduling does not
/// inflate the way it inflates wall time). Variants are interleaved in rotated blocks like the main harness.
/// </summary>
public static class Profile
{
    private const int Rounds = 9;
    private const int Block = 400;

    public static async Task RunAsync()
    {
        await using (var admin = await PostgresServer.OpenAdminAsync(RlsBenchmarkData.Database))
        {
            foreach (var sql in new[]
                     {
                         """
                         CREATE OR REPLACE PROCEDURE scaleops.rls_set_context_assign(tenant_id text, user_id text, roles text[])
                         LANGUAGE plpgsql AS $$
                         DECLARE ignored text;
                         BEGIN
                             ignored := pg_catalog.set_config('app.tenant_id', coalesce(tenant_id, ''), true);
                             ignored := pg_catalog.set_config('app.user_id', coalesce(user_id, ''), true);
                             ignored := pg_catalog.set_config('app.roles', coalesce(roles::text, ''), true);
                         END $$
                         """,
                         "GRANT EXECUTE ON PROCEDURE scaleops.rls_set_context_assign(text, text, text[]) TO PUBLIC",
                     })
            {
                await using var command = new NpgsqlCommand(sql, admin);
                await command.ExecuteNonQueryAsync();
            }
        }

        Console.WriteLine($"profile: pool of 1 per variant, {Rounds} rounds x {Block} requests, extras='{RlsBenchmarkData.Extra}', load {Load()}");
        foreach (var query in new[] { "point", "latest50" })
        {
            await ProfileAsync(query);
        }

        Console.WriteLine($"finished, load {Load()}");
    }

    private static async Task ProfileAsync(string query)
    {
        var sources = new List<NpgsqlDataSource>();
        NpgsqlDataSource Source(string role)
        {
            var builder = new NpgsqlConnectionStringBuilder(RlsBenchmarkData.ConnectionString(role)) { MaxPoolSize = 1, MinPoolSize = 1 };
            var source = NpgsqlDataSource.Create(builder.ToString());
            sources.Add(source);
            return source;
        }

        var plain = Source("bench_plain");
        Guid tenant;
        long pointId;
        await using (var command = plain.CreateCommand("SELECT t.id, (SELECT max(e.id) FROM events e WHERE e.tenant_id = t.id) FROM tenants t WHERE t.rank = 1000"))
        await using (var reader = await command.ExecuteReaderAsync())
        {
            await reader.ReadAsync();
            tenant = reader.GetGuid(0);
            pointId = reader.GetInt64(1);
        }

        var tenantText = tenant.ToString();
        var where = query == "point"
            ? "SELECT id, created_at, payload FROM events WHERE tenant_id = $1 AND id = $2"
            : "SELECT id, created_at, payload FROM events WHERE tenant_id = $1 ORDER BY created_at DESC LIMIT 50";
        var rls = query == "point"
            ? "SELECT id, created_at, payload FROM events WHERE id = $1"
            : "SELECT id, created_at, payload FROM events ORDER BY created_at DESC LIMIT 50";

        NpgsqlBatchCommand Query()
        {
            var command = new NpgsqlBatchCommand(rls);
            if (query == "point")
            {
                command.Parameters.Add(new NpgsqlParameter { Value = pointId });
            }

            return command;
        }

        NpgsqlBatchCommand Call(string procedure)
        {
            var command = new NpgsqlBatchCommand($"CALL scaleops.{procedure}($1, $2, $3)");
            command.Parameters.Add(new NpgsqlParameter(null, NpgsqlDbType.Text) { Value = tenantText });
            command.Parameters.Add(new NpgsqlParameter(null, NpgsqlDbType.Text) { Value = DBNull.Value });
            command.Parameters.Add(new NpgsqlParameter(null, NpgsqlDbType.Array | NpgsqlDbType.Text) { Value = DBNull.Value });
            return command;
        }

        NpgsqlBatchCommand SelectSetConfig()
        {
            var command = new NpgsqlBatchCommand(
                "SELECT pg_catalog.set_config('app.tenant_id', $1, true), pg_catalog.set_config('app.user_id', $2, true), pg_catalog.set_config('app.roles', $3, true)");
            command.Parameters.Add(new NpgsqlParameter(null, NpgsqlDbType.Text) { Value = tenantText });
            command.Parameters.Add(new NpgsqlParameter(null, NpgsqlDbType.Text) { Value = "" });
            command.Parameters.Add(new NpgsqlParameter(null, NpgsqlDbType.Text) { Value = "" });
            return command;
        }

        async Task<long> Baseline(NpgsqlDataSource source)
        {
            await using var connection = await source.OpenConnectionAsync();
            await using var command = new NpgsqlCommand(where, connection);
            command.Parameters.Add(new NpgsqlParameter { Value = tenant });
            if (query == "point")
            {
                command.Parameters.Add(new NpgsqlParameter { Value = pointId });
            }

            await using var reader = await command.ExecuteReaderAsync();
            return await DrainAsync(reader);
        }

        async Task<long> Batch(NpgsqlDataSource source, Func<NpgsqlBatchCommand>? context, bool skipFirst)
        {
            await using var connection = await source.OpenConnectionAsync();
            await using var batch = connection.CreateBatch();
            if (context is not null)
            {
                batch.BatchCommands.Add(context());
            }

            batch.BatchCommands.Add(Query());
            await using var reader = await batch.ExecuteReaderAsync();
            if (skipFirst)
            {
                await reader.NextResultAsync();
            }

            return await DrainAsync(reader);
        }

        var services = new ServiceCollection();
        services.AddLogging();
        services.AddScaleOps(o =>
        {
            o.ConnectionString = new NpgsqlConnectionStringBuilder(RlsBenchmarkData.ConnectionString("bench_app")) { MaxPoolSize = 1, MinPoolSize = 1 }.ToString();
            o.ApplyMigrationsOnStart = false;
        }).AddRls(o => o.VerifyOnStart = false);
        await using var provider = services.BuildServiceProvider();
        var api = provider.GetRequiredService<ITenantDataSource>();
        var tenantContext = provider.GetRequiredService<ITenantContext>();
        var tenantId = new TenantId(tenantText);

        async Task<long> Api()
        {
            using var scope = tenantContext.BeginScope(tenantId);
            await using var connection = await api.OpenConnectionAsync();
            await using var batch = query == "point" ? connection.CreateBatch(rls, pointId) : connection.CreateBatch(rls);
            await using var reader = await batch.ExecuteReaderAsync();
            return await DrainAsync(reader);
        }

        async Task<int> ApiPid()
        {
            using var scope = tenantContext.BeginScope(tenantId);
            await using var connection = await api.OpenConnectionAsync();
            return connection.Connection.ProcessID;
        }

        async Task<int> Pid(NpgsqlDataSource source)
        {
            await using var connection = await source.OpenConnectionAsync();
            return connection.ProcessID;
        }

        var app1 = Source("bench_app");
        var app2 = Source("bench_app");
        var app3 = Source("bench_app");
        var app4 = Source("bench_app");
        (string Name, Func<Task<int>> Pid, Func<Task<long>> Run)[] variants =
        [
            ("baseline: NpgsqlCommand, explicit WHERE, no RLS", () => Pid(plain), () => Baseline(plain)),
            ("ScaleOps.Rls API: OpenConnectionAsync + CreateBatch [shipped]", ApiPid, Api),
            ("raw NpgsqlBatch: CALL rls_set_context (plpgsql) + query", () => Pid(app1), () => Batch(app1, () => Call("rls_set_context"), false)),
            ("raw NpgsqlBatch: CALL rls_set_context_assign (plpgsql, 3 assignments) + query", () => Pid(app2), () => Batch(app2, () => Call("rls_set_context_assign"), false)),
            ("raw NpgsqlBatch: SELECT set_config x3 + query (reader must skip a result set)", () => Pid(app3), () => Batch(app3, SelectSetConfig, true)),
            ("raw NpgsqlBatch: the query alone, no context (0 rows: fail-closed)", () => Pid(app4), () => Batch(app4, null, false)),
        ];

        var pids = new Dictionary<string, int>();
        foreach (var v in variants)
        {
            for (var i = 0; i < 50; i++)
            {
                await v.Run();
            }

            pids[v.Name] = await v.Pid();
        }

        var wall = variants.ToDictionary(v => v.Name, _ => new List<double>());
        var client = variants.ToDictionary(v => v.Name, _ => new List<double>());
        var server = variants.ToDictionary(v => v.Name, _ => new List<double>());
        var ratio = variants.ToDictionary(v => v.Name, _ => new List<double>());
        for (var round = 0; round < Rounds; round++)
        {
            var order = variants.Skip(round % variants.Length).Concat(variants.Take(round % variants.Length)).ToArray();
            var roundWall = new Dictionary<string, double>();
            foreach (var v in order)
            {
                var samples = new double[Block];
                var pid = pids[v.Name];
                var c0 = Cpu.ClientNs();
                var s0 = TaskCpuNs($"/proc/{pid}/schedstat");
                for (var i = 0; i < Block; i++)
                {
                    var start = Stopwatch.GetTimestamp();
                    await v.Run();
                    samples[i] = Stopwatch.GetElapsedTime(start).TotalMicroseconds;
                }

                var c1 = Cpu.ClientNs();
                var s1 = TaskCpuNs($"/proc/{pid}/schedstat");
                if (await v.Pid() != pid)
                {
                    throw new InvalidOperationException($"{v.Name}: the pool of one replaced its connection; rerun");
                }

                roundWall[v.Name] = Median([.. samples]);
                wall[v.Name].Add(roundWall[v.Name]);
                client[v.Name].Add((c1 - c0) / 1000.0 / Block);
                server[v.Name].Add((s1 - s0) / 1000.0 / Block);
            }

            foreach (var v in variants)
            {
                ratio[v.Name].Add(roundWall[v.Name] / roundWall[variants[0].Name]);
            }
        }

        Console.WriteLine();
        Console.WriteLine($"### small {query}");
        Console.WriteLine();
        Console.WriteLine("| variant | wall µs median [range] | wall ratio median [range] | client CPU µs/request median [range] | backend CPU µs/request median [range] |");
        Console.WriteLine("|---|---|---|---|---|");
        foreach (var v in variants)
        {
            Console.WriteLine(FormattableString.Invariant(
                $"| {v.Name} | {Fmt(wall[v.Name])} | {Median(ratio[v.Name]):0.00}x [{ratio[v.Name].Min():0.00}-{ratio[v.Name].Max():0.00}] | {Fmt(client[v.Name])} | {Fmt(server[v.Name])} |"));
        }

        foreach (var source in sources)
        {
            await source.DisposeAsync();
        }
    }

    private static string Fmt(List<double> values) =>
        FormattableString.Invariant($"{Median(values):N1} [{values.Min():N1}-{values.Max():N1}]");

    private static long TaskCpuNs(string path)
    {
        try
        {
            var text = File.ReadAllText(path);
            return long.Parse(text.AsSpan(0, text.IndexOf(' ', StringComparison.Ordinal)), CultureInfo.InvariantCulture);
        }
        catch (IOException)
        {
            return 0;
        }
    }

    private static async Task<long> DrainAsync(NpgsqlDataReader reader)
    {
        long values = 0;
        while (await reader.ReadAsync())
        {
            values += reader.FieldCount;
        }

        return values;
    }

    private static double Median(List<double> values) => Program.Median(values);

    private static string Load() => Program.LoadAverage();
}
