using System;
using System.Linq;
using System.Text.Json;
using System.Text.Json.Serialization;
using System.Threading;
using System.Threading.Tasks;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;
using ScaleOps.Jobs.Internal;
using ScaleOps.Jobs.Tests.Support;
using ScaleOps.TestInfrastructure;

namespace ScaleOps.Jobs.Tests;

/// <summary>
/// The log events docs/architecture/jobs.md names (3015, 3020, 3021), captured from a real host with a fake logging
/// provider: each logged where the notes say, with its level and the job or queue it concerns.
/// </summary>
[Collection(ThreadBlockingCollection.Name)]
public class EventLogTests(JobsDatabase database) : IClassFixture<JobsDatabase>
{
    /// <summary>A host whose log goes to a <see cref="FakeLogCollector"/> (JobsHost filters every log out otherwise).</summary>
    private async Task<(JobsHost Host, FakeLogCollector Log)> StartAsync(string queue, Probe probe, Action<JobsOptions>? configure = null)
    {
        var host = await JobsHost.StartAsync(database.ConnectionString, o =>
        {
            o.DefaultQueue = queue;
            configure?.Invoke(o);
        }, probe: probe, services: s =>
        {
            s.AddLogging(b => b.AddFakeLogging());
            s.Configure<LoggerFilterOptions>(o =>
            {
                o.Rules.Clear();
                o.MinLevel = LogLevel.Debug;
            });
        });
        return (host, host.Services.GetFakeLogCollector());
    }

    private static FakeLogRecord[] Events(FakeLogCollector log, int id) => log.GetSnapshot().Where(r => r.Id.Id == id).ToArray();

    [Fact]
    public async Task An_outcome_that_cannot_be_written_is_dropped_with_event_3015()
    {
        var gate = new TaskCompletionSource();
        var probe = new Probe { Behavior = (p, _, _) => p.N == 1 ? gate.Task : Task.CompletedTask };
        var (host, log) = await StartAsync("log-dropped", probe);
        await using (host)
        {
            var held = (await host.Client.EnqueueAsync(new Ping(1)))!.Value;
            await TestSignal.UntilAsync(() => Task.FromResult(probe.Count == 1), "the held job to start");

            // An error Npgsql's strict UTF-8 encoder refuses: the batch, then the single write, fails; the outcome is dropped.
            var lease = await database.ScalarAsync<long>($"SELECT lease_id FROM scaleops.jobs WHERE id = {held}");
            await host.Services.GetRequiredService<JobWorker>().Completer!.AddAsync(new Completion(held, lease, 1, CompletionKind.Dead, "bad \uD83D", default));
            await TestSignal.UntilAsync(() => Task.FromResult(Events(log, 3015).Length > 0), "event 3015");
            var dropped = Assert.Single(Events(log, 3015));
            Assert.Equal(LogLevel.Error, dropped.Level);
            Assert.Contains($"job {held} attempt 1", dropped.Message, StringComparison.Ordinal);
            Assert.NotNull(dropped.Exception);
            gate.SetResult();
        }
    }

    [Fact]
    public async Task A_handler_that_ignores_the_stops_cancellation_is_abandoned_with_event_3020()
    {
        var never = new TaskCompletionSource();
        var probe = new Probe { Behavior = (_, _, _) => never.Task };
        var (host, log) = await StartAsync("log-stop", probe, o => o.ShutdownTimeout = TimeSpan.FromMilliseconds(100));
        long id;
        await using (host)
        {
            id = (await host.Client.EnqueueAsync(new Ping(1)))!.Value;
            await TestSignal.UntilAsync(() => Task.FromResult(probe.Count == 1), "the job to start");
        }

        never.SetResult();
        var abandoned = Assert.Single(Events(log, 3020));
        Assert.Equal(LogLevel.Warning, abandoned.Level);
        Assert.Contains($"Job {id} (test.ping)", abandoned.Message, StringComparison.Ordinal);
        Assert.Equal("pending", await database.ScalarAsync<string>($"SELECT state FROM scaleops.jobs WHERE id = {id}"));
    }

    /// <summary>A probe whose first job blocks its thread (not its task) until <paramref name="blocker"/> is set.</summary>
    private static Probe BlockingFirst(ManualResetEventSlim blocker) => new()
    {
        Behavior = (p, _, _) =>
        {
            if (p.N == 1)
            {
                blocker.Wait(TimeSpan.FromSeconds(30));
            }

            return Task.CompletedTask;
        },
    };

    [Theory]
    [InlineData(false)] // fetched, started on the pump
    [InlineData(true)] // started by its insert, on a pool thread (local dispatch)
    public async Task A_handler_that_blocks_its_thread_is_reported_with_event_3021_naming_its_queue(bool localDispatch)
    {
        using var blocker = new ManualResetEventSlim();
        var queue = localDispatch ? "log-block-local" : "log-block-pump";
        var (host, log) = await StartAsync(queue, BlockingFirst(blocker), o =>
        {
            o.PollInterval = TimeSpan.FromHours(1);
            o.Queues[queue] = new QueueOptions { Concurrency = 2, LocalDispatch = localDispatch };
        });
        try
        {
            await using (host)
            {
                await host.SettledProducerAsync(queue);
                var blocked = (await host.Client.EnqueueAsync(new Ping(1)))!.Value;
                await TestSignal.UntilAsync(() => Task.FromResult(Events(log, 3021).Length > 0), "event 3021 while the handler blocks");
                var stalled = Assert.Single(Events(log, 3021));
                Assert.Equal(LogLevel.Warning, stalled.Level);
                Assert.Contains($"queue {queue}", stalled.Message, StringComparison.Ordinal);
                Assert.Equal(localDispatch, await database.ScalarAsync<bool>($"SELECT attempted_at = created_at FROM scaleops.jobs WHERE id = {blocked}"));
                blocker.Set();
                await TestSignal.UntilAsync(
                    async () => await database.ScalarAsync<string>($"SELECT state FROM scaleops.jobs WHERE id = {blocked}") == "succeeded", "the job to finish");
                Assert.Single(Events(log, 3021));
            }
        }
        finally
        {
            blocker.Set();
        }
    }

    /// <summary>
    /// Deserializes <see cref="Ping"/> like the default options, holding the worker's thread in the first read until
    /// <see cref="Release"/> is set: a step of the worker's own before the handler (a cold start's JIT, metadata or DI).
    /// </summary>
    private sealed class HeldPingConverter : JsonConverter<Ping>
    {
        public ManualResetEventSlim Release { get; } = new();

        public override Ping? Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
        {
            Release.Wait(TimeSpan.FromSeconds(30));
            return JsonSerializer.Deserialize<Ping>(ref reader, JsonSerializerOptions.Web);
        }

        public override void Write(Utf8JsonWriter writer, Ping value, JsonSerializerOptions options) =>
            JsonSerializer.Serialize(writer, value, JsonSerializerOptions.Web);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task A_start_held_by_the_workers_own_steps_before_a_quick_handler_is_not_reported_with_event_3021(bool localDispatch)
    {
        var converter = new HeldPingConverter();
        var queue = localDispatch ? "log-cold-local" : "log-cold-pump";
        var (host, log) = await StartAsync(queue, new Probe(), o =>
        {
            o.PollInterval = TimeSpan.FromHours(1);
            o.Queues[queue] = new QueueOptions { Concurrency = 2, LocalDispatch = localDispatch };
            o.SerializerOptions = new JsonSerializerOptions(JsonSerializerOptions.Web) { Converters = { converter } };
        });
        try
        {
            await using (host)
            {
                var producer = await host.SettledProducerAsync(queue);
                var id = (await host.Client.EnqueueAsync(new Ping(1)))!.Value;

                // The payload's deserialization holds the start until the watchdog has found it held past its 100 ms (on the
                // pump it hands the pump over): the worker's step, the handler is quick, nothing to report.
                await TestSignal.UntilAsync(() => Task.FromResult(producer.StallsSeen > 0), "the watchdog to find the start held past 100 ms");
                converter.Release.Set();
                await TestSignal.UntilAsync(
                    async () => await database.ScalarAsync<string>($"SELECT state FROM scaleops.jobs WHERE id = {id}") == "succeeded", "the job to finish");
                Assert.Empty(Events(log, 3021));
            }
        }
        finally
        {
            converter.Release.Set();
            converter.Release.Dispose();
        }
    }
}
