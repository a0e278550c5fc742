using System;
using System.Threading.Tasks;
using Microsoft.Extensions.DependencyInjection;
using ScaleOps.Jobs.Tests.Support;
using ScaleOps.TestInfrastructure;

namespace ScaleOps.Jobs.Tests;

/// <summary>
/// Jobs to run now between hosts whose clocks disagree: a host's clock neither delays them for the others (stored no
/// later than the database's clock) nor keeps a fetcher behind from seeing them due (due once either its clock or the
/// database's has reached their run_at).
/// </summary>
public partial class WorkerTests
{
    private static readonly TimeSpan Skew = TimeSpan.FromMinutes(10);

    [Theory]
    [InlineData(10, 0, "one")] // the enqueuing host's clock ahead: its "now" was 10 minutes in everyone else's future
    [InlineData(10, 0, "many-keyed")] // the array INSERT (a batch with a unique key)
    [InlineData(10, 0, "many-copy")] // the binary COPY (a batch without)
    [InlineData(10, 0, "transactional")] // in the caller's transaction
    [InlineData(0, -10, "one")] // the working host's clock behind: it saw the others' jobs as not due yet
    [InlineData(0, -10, "many-copy")]
    public async Task A_job_to_run_now_runs_at_once_whatever_the_enqueuing_and_the_working_hosts_clocks_say(
        int enqueuerMinutes, int workerMinutes, string path)
    {
        // run_at was the enqueuing host's now, and a job was due when run_at <= the fetching host's now: a job enqueued
        // on a host 10 minutes ahead of the worker's (or run by a worker 10 minutes behind the enqueuer's) waited 10
        // minutes, and the stats of the worker's host counted it as scheduled.
        var queue = $"w-skew-{path}-{(enqueuerMinutes > 0 ? "ahead" : "behind")}";
        void Configure(JobsOptions o)
        {
            o.DefaultQueue = queue;
            o.Queues[queue] = new QueueOptions { LocalDispatch = false };
            o.LeaseDuration = TimeSpan.FromMinutes(30); // the skewed clocks never expire a lease (they are on the database's)
        }

        await using var enqueuer = await JobsHost.StartAsync(database.ConnectionString, o =>
        {
            Configure(o);
            o.RunWorker = false;
        }, services: s => s.AddSingleton<TimeProvider>(new SkewedTime(TimeSpan.FromMinutes(enqueuerMinutes))));
        await using var worker = await JobsHost.StartAsync(database.ConnectionString, Configure,
            services: s => s.AddSingleton<TimeProvider>(new SkewedTime(TimeSpan.FromMinutes(workerMinutes))));
        await worker.SettledProducerAsync(queue);

        var expected = path switch
        {
            "one" => await EnqueueCountAsync(enqueuer.Client.EnqueueAsync(new Ping(1))),
            "many-keyed" => await enqueuer.Client.EnqueueManyAsync([new Ping(1), new Ping(2)], new JobOptions { UniqueKey = queue }),
            "many-copy" => await enqueuer.Client.EnqueueManyAsync([new Ping(1), new Ping(2), new Ping(3)]),
            _ => await EnqueueInTransactionAsync(enqueuer.Client),
        };
        Assert.True(expected > 0);
        Assert.True(await database.ScalarAsync<bool>(
            $"SELECT bool_and(run_at <= clock_timestamp()) FROM scaleops.jobs WHERE queue = '{queue}'"), "a run_at in the database's future");

        // Well inside the 10-minute skew (a minute at most): the worker's poll (200 ms) or the enqueue's NOTIFY finds them due.
        await TestSignal.UntilAsync(
            async () => await database.ScalarAsync<long>($"SELECT count(*) FROM scaleops.jobs WHERE queue = '{queue}' AND state = 'succeeded'") == expected,
            $"the {expected} jobs to run now to succeed on the worker", TimeSpan.FromSeconds(60));
    }

    [Fact]
    public async Task A_job_to_run_now_counts_as_available_in_the_stats_of_a_host_whose_clock_is_behind()
    {
        var queue = "w-skew-stats";
        await using var enqueuer = await JobsHost.StartAsync(database.ConnectionString, o =>
        {
            o.DefaultQueue = queue;
            o.RunWorker = false;
        });
        await using var behind = await JobsHost.StartAsync(database.ConnectionString, o =>
        {
            o.DefaultQueue = queue;
            o.RunWorker = false;
        }, services: s => s.AddSingleton<TimeProvider>(new SkewedTime(-Skew)));
        await enqueuer.Client.EnqueueAsync(new Ping(1));
        await enqueuer.Client.EnqueueAsync(new Ping(2), new JobOptions { Delay = TimeSpan.FromHours(1) });

        var stats = Assert.Single(await behind.Admin.GetQueueStatsAsync(), s => s.Queue == queue);
        Assert.Equal((1L, 1L), (stats.Available, stats.Scheduled));
    }

    [Theory]
    [InlineData("rescue")] // a lease expired: the rescuing host makes the job pending, due "now"
    [InlineData("retry-dead")] // the admin API retries a dead job, due "now"
    public async Task A_job_made_due_now_by_a_host_whose_clock_is_ahead_is_due_on_the_database_clock(string how)
    {
        // The rescued or retried job's run_at was that host's now: 10 minutes in the others' future.
        var queue = $"w-skew-{how}";
        var id = await database.ScalarAsync<long>(how == "rescue"
            ? "INSERT INTO scaleops.jobs (queue, kind, payload, state, run_at, attempt, max_attempts, created_at, attempted_at, lease_until) "
                + $"VALUES ('{queue}', 'test.ping', '{{\"N\":1}}', 'running', now(), 1, 3, now(), now(), now() - interval '1 minute') RETURNING id"
            : "INSERT INTO scaleops.jobs (queue, kind, payload, state, run_at, attempt, max_attempts, created_at, finished_at, last_error) "
                + $"VALUES ('{queue}', 'test.ping', '{{\"N\":1}}', 'dead', now(), 3, 3, now(), now(), 'boom') RETURNING id");
        await using var ahead = await JobsHost.StartAsync(database.ConnectionString, o =>
        {
            o.DefaultQueue = "w-skew-elsewhere"; // its worker (and rescuer) works another queue
            o.RescueInterval = TimeSpan.FromMilliseconds(100);
            o.RunWorker = how == "rescue";
        }, services: s => s.AddSingleton<TimeProvider>(new SkewedTime(Skew)));
        if (how == "retry-dead")
        {
            Assert.True(await ahead.Admin.RetryDeadAsync(id));
        }

        await TestSignal.UntilAsync(
            async () => await database.ScalarAsync<string>($"SELECT state FROM scaleops.jobs WHERE id = {id}") == "pending",
            $"job {id} to be pending again");
        Assert.True(await database.ScalarAsync<bool>($"SELECT run_at <= clock_timestamp() FROM scaleops.jobs WHERE id = {id}"),
            "a run_at in the database's future");
    }

    private static async Task<int> EnqueueCountAsync(Task<long?> enqueue) => await enqueue is null ? 0 : 1;

    private async Task<int> EnqueueInTransactionAsync(IJobClient client)
    {
        await using var connection = new Npgsql.NpgsqlConnection(database.ConnectionString);
        await connection.OpenAsync();
        await using var tx = await connection.BeginTransactionAsync();
        await client.EnqueueAsync(connection, tx, new Ping(1), null, default);
        await tx.CommitAsync();
        return 1;
    }
}
