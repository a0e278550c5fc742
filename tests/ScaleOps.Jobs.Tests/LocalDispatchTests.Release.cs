using System;
using System.Linq;
using System.Threading.Tasks;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;
using ScaleOps.Jobs.Internal;
using ScaleOps.Jobs.Tests.Support;
using ScaleOps.TestInfrastructure;

namespace ScaleOps.Jobs.Tests;

/// <summary>
/// Event 3019: a locally dispatched job's started row that the client could not give back (the release by a client
/// whose worker began to stop, or the give-back after an insert whose outcome is unknown), on private servers.
/// </summary>
public partial class LocalDispatchTests
{
    [Fact]
    public async Task A_job_whose_started_insert_commits_while_its_worker_stops_and_cannot_be_released_is_logged_as_3019()
    {
        // As above, but the host's role (not a superuser) has lost UPDATE on the jobs table by the time the commit
        // completes: the release fails, event 3019 names the job and "the worker is stopping", and the job stays running
        // under its lease for the rescuer.
        await using var pg = await PrivatePostgres.StartAsync();
        await using var admin = Npgsql.NpgsqlDataSource.Create(pg.ConnectionString);
        await using (var role = admin.CreateCommand("CREATE ROLE app LOGIN; GRANT CREATE ON DATABASE postgres TO app"))
        {
            await role.ExecuteNonQueryAsync();
        }

        var appConnection = new Npgsql.NpgsqlConnectionStringBuilder(pg.ConnectionString) { Username = "app" }.ConnectionString;
        var probe = new Probe();
        await using var host = await JobsHost.StartAsync(appConnection, o =>
        {
            o.DefaultQueue = "ld-release-fails";
            o.PollInterval = TimeSpan.FromHours(1);
            o.ShutdownTimeout = TimeSpan.FromSeconds(20);
        }, probe: probe, services: s =>
        {
            s.AddLogging(b => b.AddFakeLogging());
            s.Configure<LoggerFilterOptions>(o =>
            {
                o.Rules.Clear();
                o.MinLevel = LogLevel.Debug;
            });
        });
        var log = host.Services.GetFakeLogCollector();
        var producer = await host.SettledProducerAsync("ld-release-fails");
        await using var stall = new CommitStall(pg, host);
        await stall.BeginAsync();
        var enqueue = host.Client.EnqueueAsync(new Ping(1));
        await stall.UntilStartedInsertWaitsAsync();

        var stop = host.Services.GetRequiredService<JobWorker>().StopAsync(default);
        await TestSignal.UntilAsync(() => Task.FromResult(producer.IsStopping), "the worker to stop fetching");
        await using (var connection = await admin.OpenConnectionAsync())
        {
            // Its own commit must not wait for the standby that is not there; nor may it wait for a lock for long.
            await using var local = new Npgsql.NpgsqlCommand("SET synchronous_commit = local; SET lock_timeout = '10s'", connection);
            await local.ExecuteNonQueryAsync();
            await using var revoke = new Npgsql.NpgsqlCommand("REVOKE UPDATE ON scaleops.jobs FROM app", connection);
            await revoke.ExecuteNonQueryAsync();
        }

        await stall.EndAsync();
        var id = (await enqueue.WaitAsync("the enqueue to finish"))!.Value;
        await stop.WaitAsync("the worker to stop");

        var record = Assert.Single(log.GetSnapshot(), r => r.Id.Id == 3019);
        Assert.Equal(LogLevel.Warning, record.Level);
        Assert.Contains($"Could not give back job {id} of queue ld-release-fails", record.Message, StringComparison.Ordinal);
        Assert.Contains("(the worker is stopping)", record.Message, StringComparison.Ordinal);
        Assert.Equal(Npgsql.PostgresErrorCodes.InsufficientPrivilege, Assert.IsType<Npgsql.PostgresException>(record.Exception).SqlState);
        Assert.Equal("running", await stall.ScalarAsync<string>($"SELECT state FROM scaleops.jobs WHERE id = {id}"));
        Assert.Empty(probe.Seen);
    }

    [Fact]
    public async Task A_started_row_that_cannot_be_given_back_because_the_server_is_gone_is_logged_as_3019()
    {
        // The started insert's commit waits for a standby (a private server) when the server stops at once: the outcome
        // is unknown, so the client tries to give the row back until its lease would expire, and cannot reach the
        // server. Event 3019 says so, naming the queue and why the row was to be given back; the rescuer has it then.
        await using var pg = await PrivatePostgres.StartAsync();
        await using var host = await JobsHost.StartAsync(pg.ConnectionString, o =>
        {
            o.DefaultQueue = "ld-unreachable";
            o.PollInterval = TimeSpan.FromHours(1);
            o.LeaseDuration = TimeSpan.FromSeconds(2); // how long the give-back tries
        }, services: s =>
        {
            s.AddLogging(b => b.AddFakeLogging());
            s.Configure<LoggerFilterOptions>(o =>
            {
                o.Rules.Clear();
                o.MinLevel = LogLevel.Debug;
            });
        });
        var log = host.Services.GetFakeLogCollector();
        await host.SettledProducerAsync("ld-unreachable");
        await using var stall = new CommitStall(pg, host);
        await stall.BeginAsync();
        var enqueue = host.Client.EnqueueAsync(new Ping(1));
        await stall.UntilStartedInsertWaitsAsync();

        await pg.StopAsync();
        var failed = await Assert.ThrowsAnyAsync<Exception>(() => enqueue);
        try
        {
            await TestSignal.UntilAsync(() => Task.FromResult(log.GetSnapshot().Any(r => r.Id.Id == 3019)), "event 3019");
        }
        finally
        {
            await pg.StartAgainAsync();
            await stall.EndAsync();
        }

        var record = Assert.Single(log.GetSnapshot(), r => r.Id.Id == 3019);
        Assert.Equal(LogLevel.Warning, record.Level);
        Assert.Contains("(test.ping created at ", record.Message, StringComparison.Ordinal);
        Assert.Contains("of queue ld-unreachable", record.Message, StringComparison.Ordinal);
        Assert.Contains($"its insert failed: {failed.GetType().Name}", record.Message, StringComparison.Ordinal);
        Assert.IsAssignableFrom<Npgsql.NpgsqlException>(record.Exception); // the give-back's own failure: no server
    }
}
