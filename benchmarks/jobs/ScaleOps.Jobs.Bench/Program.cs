using System;
using System.Diagnostics;
using System.Globalization;
using System.Linq;
using System.Text.Json;
using System.Threading;
using System.Threading.Tasks;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Npgsql;

namespace ScaleOps.Jobs.Bench;

[JobKind("bench")]
public sealed record BenchJob(int I);

/// <summary>Counts handled jobs and signals the latency probe.</summary>
public sealed class Counter
{
    private int _done;
    private int _target = int.MaxValue;
    private TaskCompletionSource _reached = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private TaskCompletionSource<long>? _started;

    public int Done => Volatile.Read(ref _done);

    public void Reset() => Volatile.Write(ref _done, 0);

    /// <summary>
    /// Completes once the handlers have counted <paramref name="target"/> jobs: a signal, not a polling loop (a 1 ms
    /// delay loop woke a thread-pool thread a thousand times a second in the measured process).
    /// </summary>
    public Task Reached(int target)
    {
        _reached = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        Volatile.Write(ref _target, target);
        if (Done >= target)
        {
            _reached.TrySetResult();
        }

        return _reached.Task;
    }

    public Task<long> ExpectStart()
    {
        _started = new TaskCompletionSource<long>(TaskCreationOptions.RunContinuationsAsynchronously);
        return _started.Task;
    }

    public void Handled()
    {
        if (Interlocked.Increment(ref _done) >= Volatile.Read(ref _target))
        {
            _reached.TrySetResult();
        }

        _started?.TrySetResult(Stopwatch.GetTimestamp());
    }
}

public sealed class BenchHandler(Counter counter) : IJobHandler<BenchJob>
{
    public Task HandleAsync(BenchJob payload, JobContext context, CancellationToken cancellationToken)
    {
        counter.Handled();
        return Task.CompletedTask;
    }
}

public static class Program
{
    /// <summary>
    /// Bulk enqueue measures a warm process (steady-state throughput, not a cold start): every peer first enqueues
    /// <see cref="WarmupRounds"/> untimed batches of this many jobs the same way.
    /// </summary>
    private const int Warmup = 500;

    private const int WarmupRounds = 40;

    /// <summary>
    /// Untimed processing rounds of N jobs before the timed one (PROCESS_WARMUP, default 1), each by a worker that then
    /// stops, as every peer's harness does: the timed run measures warm code, as in a worker service that runs for hours.
    /// </summary>
    private static readonly int ProcessWarmupRounds = int.TryParse(Environment.GetEnvironmentVariable("PROCESS_WARMUP"), out var w) ? w : 1;

    /// <summary>Untimed pickup-latency samples before the measured ones (every peer's harness takes as many).</summary>
    private const int LatencyWarmup = 20;

    /// <summary>
    /// Usage: ScaleOps.Jobs.Bench &lt;bulk|single|process|latency&gt; CONNECTION_STRING N C [buffer|local]
    /// "buffer": LocalBuffer 500 and succeeded jobs deleted at completion (graphile-worker's localQueue 500 and delete).
    /// "local" (latency): the jobs are enqueued through the worker's own host, so local dispatch starts them there; without
    /// it they are enqueued through a second host that runs no worker, as from another process (NOTIFY, then a fetch).
    /// </summary>
    public static async Task<int> Main(string[] args)
    {
        var (scenario, cs, n, c) = (args[0], args[1], int.Parse(args[2], CultureInfo.InvariantCulture), int.Parse(args[3], CultureInfo.InvariantCulture));
        var buffered = args.Length > 4 && args[4] == "buffer";
        var local = args.Length > 4 && args[4] == "local";
        var counter = new Counter();
        IHost Build(bool worker) => BuildHost(cs, worker, c, buffered, counter);
        await using var admin = NpgsqlDataSource.Create(cs);
        async Task CheckpointAsync()
        {
            await using var command = admin.CreateCommand("CHECKPOINT");
            await command.ExecuteNonQueryAsync();
        }

        var payloads = Enumerable.Range(0, n).Select(i => new BenchJob(i)).ToList();
        using var client = Build(worker: false);
        await client.StartAsync();
        var jobs = client.Services.GetRequiredService<IJobClient>();
        object result;
        switch (scenario)
        {
            case "bulk":
            {
                // Warm-up, as every peer does: untimed batches through the same path, 50 ms apart, so that the timed batch runs
                // JIT-optimized code (a cold process measured 1.3-1.9x graphile-worker's cold rate; tiered JIT off, 3x).
                for (var w = 0; w < WarmupRounds; w++)
                {
                    await jobs.EnqueueManyAsync(Enumerable.Range(0, Warmup).Select(i => new BenchJob(-1 - i)).ToList());
                    await Task.Delay(50);
                }

                await CheckpointAsync();
                var t0 = Stopwatch.GetTimestamp();
                await jobs.EnqueueManyAsync(payloads);
                result = new { value = n / Stopwatch.GetElapsedTime(t0).TotalSeconds };
                break;
            }

            case "single":
            {
                await CheckpointAsync();
                var t0 = Stopwatch.GetTimestamp();
                foreach (var p in payloads)
                {
                    await jobs.EnqueueAsync(p);
                }

                result = new { value = n / Stopwatch.GetElapsedTime(t0).TotalSeconds };
                break;
            }

            case "process":
            {
                // Warm-up, as every peer does: the same number of jobs processed untimed (each round bounded at 20 s) by a
                // worker that then stops, in another database, so the timed run measures warm code (a worker service runs
                // for hours) on new tables, as without the warm-up.
                var warmCs = new NpgsqlConnectionStringBuilder(cs);
                warmCs.Database += "_warm";
                for (var round = 0; round < ProcessWarmupRounds; round++)
                {
                    using var warm = BuildHost(warmCs.ConnectionString, worker: true, c, buffered, counter);
                    await warm.StartAsync();
                    await warm.Services.GetRequiredService<IJobClient>().EnqueueManyAsync(payloads);
                    await Task.WhenAny(counter.Reached(n * (round + 1)), Task.Delay(TimeSpan.FromSeconds(20)));
                    await warm.StopAsync();
                }

                counter.Reset();
                await jobs.EnqueueManyAsync(payloads);
                await CheckpointAsync();
                using var worker = Build(worker: true);
                using var jitLog = Environment.GetEnvironmentVariable("BENCH_JIT_LOG") == "1" ? new JitLog() : null;
                var cpu0 = CpuMeter.Read();
                var (jit0, jitTime0) = (System.Runtime.JitInfo.GetCompiledMethodCount(), System.Runtime.JitInfo.GetCompilationTime());
                var t0 = Stopwatch.GetTimestamp();
                await worker.StartAsync();
                await UntilDoneAsync(admin, counter, n);

                var elapsed = Stopwatch.GetElapsedTime(t0).TotalSeconds;
                var cpu = CpuMeter.Read() - cpu0;
                jitLog?.Print();
                result = new { value = n / elapsed, worker_cpu_us_per_job = cpu.Process * 1e6 / n, pg_cpu_us_per_job = cpu.Postgres * 1e6 / n, jitted = System.Runtime.JitInfo.GetCompiledMethodCount() - jit0, jit_ms = (System.Runtime.JitInfo.GetCompilationTime() - jitTime0).TotalMilliseconds };
                await worker.StopAsync();
                break;
            }

            case "latency":
            {
                using var worker = Build(worker: true);
                await worker.StartAsync();
                if (local)
                {
                    jobs = worker.Services.GetRequiredService<IJobClient>();
                }

                await Task.Delay(500);
                var samples = new double[n];
                var enqueue = new double[n];
                // LatencyWarmup untimed samples first, the same way (as every peer's harness): the measured ones run warm code.
                for (var i = -LatencyWarmup; i < n; i++)
                {
                    var started = counter.ExpectStart();
                    var t0 = Stopwatch.GetTimestamp();
                    await jobs.EnqueueAsync(i < 0 ? new BenchJob(i) : payloads[i]);
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
                await worker.StopAsync();
                break;
            }

            default:
                await Console.Error.WriteLineAsync("scenario: bulk | single | process | latency");
                return 2;
        }

        await client.StopAsync();
        var peer = buffered ? "scaleops-buffer" : local ? "scaleops-local" : "scaleops";
        var line = JsonSerializer.Serialize(new { peer, scenario, n, c }).TrimEnd('}') + "," + JsonSerializer.Serialize(result).TrimStart('{');
        Console.WriteLine(line);
        return 0;
    }

    /// <summary>Waits until the handlers have counted <paramref name="n"/> jobs and the database shows every job done.</summary>
    private static async Task UntilDoneAsync(NpgsqlDataSource admin, Counter counter, int n)
    {
        await counter.Reached(n);

        await using var left = admin.CreateCommand("SELECT count(*) FROM scaleops.jobs WHERE state <> 'succeeded'");
        while ((long)(await left.ExecuteScalarAsync())! > 0)
        {
            await Task.Delay(5);
        }
    }

    private static IHost BuildHost(string cs, bool worker, int concurrency, bool buffered, Counter counter)
    {
        var builder = Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings());
        builder.Logging.AddFilter(_ => false);
        builder.Services.AddSingleton(counter);
        builder.Services.AddScaleOps(o => o.ConnectionString = cs)
            .AddJobs(o =>
            {
                o.RunWorker = worker;
                o.Queues["default"] = new QueueOptions { Concurrency = concurrency, LocalBuffer = buffered ? 500 : 0 };
                if (buffered)
                {
                    o.SucceededRetention = TimeSpan.Zero;
                }
            })
            .AddHandler<BenchJob, BenchHandler>();
        return builder.Build();
    }
}
