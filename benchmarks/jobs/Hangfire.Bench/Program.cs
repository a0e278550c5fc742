using System;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using System.Threading;
using System.Threading.Tasks;
using Hangfire;
using Hangfire.PostgreSql;
using Npgsql;

namespace Hangfire.Bench;

/// <summary>The no-op job. Hangfire stores the call (type, method, arguments) and invokes it on a worker.</summary>
public static class BenchJob
{
    private static int s_done;
    private static TaskCompletionSource<long>? s_started;

    public static int Done => Volatile.Read(ref s_done);

    private static int s_target = int.MaxValue;
    private static TaskCompletionSource s_reached = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public static void Reset()
    {
        Volatile.Write(ref s_target, int.MaxValue);
        s_reached = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        Volatile.Write(ref s_done, 0);
    }

    /// <summary>Completes once <paramref name="target"/> jobs ran: a signal, not a polling loop in the measured process.</summary>
    public static Task Reached(int target)
    {
        if (Volatile.Read(ref s_target) != target)
        {
            s_reached = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            Volatile.Write(ref s_target, target);
        }

        if (Done >= target)
        {
            s_reached.TrySetResult();
        }

        return s_reached.Task;
    }

    public static Task<long> ExpectStart()
    {
        s_started = new TaskCompletionSource<long>(TaskCreationOptions.RunContinuationsAsynchronously);
        return s_started.Task;
    }

    public static void Run(int i)
    {
        _ = i;
        if (Interlocked.Increment(ref s_done) >= Volatile.Read(ref s_target))
        {
            s_reached.TrySetResult();
        }

        s_started?.TrySetResult(Stopwatch.GetTimestamp());
    }
}

public static class Program
{
    /// <summary>
    /// Usage: Hangfire.Bench &lt;bulk|single|process|latency&gt; CONNECTION_STRING N C [CAP_SECONDS]
    /// Storage: EnableLongPolling (LISTEN/NOTIFY wake-up), QueuePollInterval 1 s (the backstop poll, as ScaleOps.Jobs'
    /// PollInterval), UseSlidingInvisibilityTimeout (a heartbeat-renewed lease, as ScaleOps.Jobs' lease), native
    /// transactions. Processing is capped at CAP_SECONDS (default 30): a capped run reports jobs done / elapsed.
    /// </summary>
    public static async Task<int> Main(string[] args)
    {
        var (scenario, cs, n, c) = (args[0], args[1], int.Parse(args[2], CultureInfo.InvariantCulture), int.Parse(args[3], CultureInfo.InvariantCulture));
        var cap = TimeSpan.FromSeconds(args.Length > 4 ? int.Parse(args[4], CultureInfo.InvariantCulture) : 30);
        var options = new PostgreSqlStorageOptions
        {
            PrepareSchemaIfNecessary = true,
            EnableLongPolling = true,
            QueuePollInterval = TimeSpan.FromSeconds(1),
            UseSlidingInvisibilityTimeout = true,
            InvisibilityTimeout = TimeSpan.FromMinutes(5),
            UseNativeDatabaseTransactions = true,
        };
        GlobalConfiguration.Configuration
            .SetDataCompatibilityLevel(CompatibilityLevel.Version_180)
            .UseSimpleAssemblyNameTypeSerializer()
            .UseRecommendedSerializerSettings()
            .UsePostgreSqlStorage(o => o.UseNpgsqlConnection(cs), options);
        var storage = JobStorage.Current;
        await using var admin = NpgsqlDataSource.Create(cs);
        async Task CheckpointAsync()
        {
            await using var command = admin.CreateCommand("CHECKPOINT");
            await command.ExecuteNonQueryAsync();
        }

        var client = new BackgroundJobClient(storage);
        BackgroundJobServer Server(int workers) => new(new BackgroundJobServerOptions { WorkerCount = workers, ServerName = "bench" }, storage);
        void EnqueueParallel(int count, int callers) =>
            Parallel.For(0, count, new ParallelOptions { MaxDegreeOfParallelism = callers }, i => client.Enqueue(() => BenchJob.Run(i)));

        object result;
        switch (scenario)
        {
            case "bulk":
            {
                // No bulk API in Hangfire OSS (batches are Hangfire Pro): C parallel callers each enqueue one job at a time.
                // Warm-up, as every peer does: three untimed rounds through the same path (a tenth of N each), 200 ms apart.
                for (var w = 0; w < 3; w++)
                {
                    EnqueueParallel(Math.Max(1, n / 10), c);
                    await Task.Delay(200);
                }

                await CheckpointAsync();
                var t0 = Stopwatch.GetTimestamp();
                EnqueueParallel(n, c);
                result = new { value = n / Stopwatch.GetElapsedTime(t0).TotalSeconds, note = $"no bulk API: {c} parallel callers" };
                break;
            }

            case "single":
            {
                await CheckpointAsync();
                var t0 = Stopwatch.GetTimestamp();
                for (var i = 0; i < n; i++)
                {
                    client.Enqueue(() => BenchJob.Run(i));
                }

                result = new { value = n / Stopwatch.GetElapsedTime(t0).TotalSeconds };
                break;
            }

            case "process":
            {
                // Warm-up, as every peer does: PROCESS_WARMUP rounds (default 1) of N jobs processed untimed by a server that
                // then stops (each bounded at 20 s), in another database, so the timed run is warm code on new tables.
                var warmups = int.TryParse(Environment.GetEnvironmentVariable("PROCESS_WARMUP"), out var w) ? w : 1;
                if (warmups > 0)
                {
                    var warmCs = new NpgsqlConnectionStringBuilder(cs);
                    warmCs.Database += "_warm";
                    var warmStorage = GlobalConfiguration.Configuration.UsePostgreSqlStorage(o => o.UseNpgsqlConnection(warmCs.ConnectionString), options).Entry;
                    JobStorage.Current = storage; // the measured database stays the default
                    var warmClient = new BackgroundJobClient(warmStorage);
                    for (var round = 0; round < warmups; round++)
                    {
                        BenchJob.Reset();
                        Parallel.For(0, n, new ParallelOptions { MaxDegreeOfParallelism = 10 }, i => warmClient.Enqueue(() => BenchJob.Run(i)));
                        using var warm = new BackgroundJobServer(new BackgroundJobServerOptions { WorkerCount = c, ServerName = "bench-warm" }, warmStorage);
                        await Task.WhenAny(BenchJob.Reached(n), Task.Delay(TimeSpan.FromSeconds(20)));
                        warm.SendStop();
                    }
                }

                BenchJob.Reset();
                EnqueueParallel(n, 10);
                await CheckpointAsync();
                var t0 = Stopwatch.GetTimestamp();
                using var server = Server(c);
                var capped = false;
                var reached = BenchJob.Reached(n);
                if (await Task.WhenAny(reached, Task.Delay(cap)) != reached)
                {
                    capped = true;
                }

                if (!capped)
                {
                    await using var left = admin.CreateCommand("SELECT count(*) FROM hangfire.job WHERE statename IS DISTINCT FROM 'Succeeded'");
                    while ((long)(await left.ExecuteScalarAsync())! > 0)
                    {
                        await Task.Delay(5);
                    }
                }

                var elapsed = Stopwatch.GetElapsedTime(t0).TotalSeconds;
                result = capped ? new { value = BenchJob.Done / elapsed, capped = true } : new { value = n / elapsed, capped = false };
                server.SendStop();
                break;
            }

            case "latency":
            {
                using var server = Server(1);
                await Task.Delay(1000);
                var samples = new double[n];
                var enqueue = new double[n];
                // 20 untimed samples first, the same way (as every peer's harness): the measured ones run warm code.
                for (var i = -20; i < n; i++)
                {
                    var started = BenchJob.ExpectStart();
                    var t0 = Stopwatch.GetTimestamp();
                    var k = i;
                    client.Enqueue(() => BenchJob.Run(k));
                    var enqueued = Stopwatch.GetElapsedTime(t0).TotalMilliseconds;
                    var pickedUp = Stopwatch.GetElapsedTime(t0, await started).TotalMilliseconds;
                    if (i >= 0)
                    {
                        enqueue[i] = enqueued;
                        samples[i] = pickedUp;
                    }

                    await Task.Delay(20 + Random.Shared.Next(31));
                }

                Array.Sort(samples);
                Array.Sort(enqueue);
                double At(double[] s, int p) => s[Math.Min(s.Length - 1, (int)Math.Ceiling(p / 100.0 * s.Length) - 1)];
                result = new { p50 = At(samples, 50), p95 = At(samples, 95), p99 = At(samples, 99), max = samples[^1], enqueueP50 = At(enqueue, 50) };
                server.SendStop();
                break;
            }

            default:
                await Console.Error.WriteLineAsync("scenario: bulk | single | process | latency");
                return 2;
        }

        var line = JsonSerializer.Serialize(new { peer = "hangfire", scenario, n, c }).TrimEnd('}') + "," + JsonSerializer.Serialize(result).TrimStart('{');
        Console.WriteLine(line);
        Environment.Exit(0); // the server's background processes need not drain
        return 0;
    }
}
