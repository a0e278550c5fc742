using System;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using Microsoft.Extensions.DependencyInjection;
using ScaleOps.Jobs.Internal;
using ScaleOps.Jobs.Tests.Support;
using ScaleOps.TestInfrastructure;

namespace ScaleOps.Jobs.Tests;

/// <summary>
/// Retrying or discarding all dead jobs works in batches, each statement its own transaction, instead of one statement
/// over every dead job (one long transaction holding all their row locks). The batch size is lowered to 4 so that a few
/// dozen jobs take several batches. Statement-level triggers record how many rows each statement changed, in which
/// transaction.
/// </summary>
public class DeadJobBatchTests(JobsDatabase database) : IClassFixture<JobsDatabase>
{
    private const int Batch = 4;

    private const string Recorder = """
        CREATE TABLE IF NOT EXISTS scaleops.statement_rows (seq bigserial, depth int, tx bigint, op text, n bigint);
        CREATE OR REPLACE FUNCTION scaleops.record_rows() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            INSERT INTO scaleops.statement_rows (depth, tx, op, n) SELECT pg_trigger_depth(), txid_current(), TG_OP, count(*) FROM changed;
            RETURN NULL;
        END $$;
        DROP TRIGGER IF EXISTS record_updates ON scaleops.jobs;
        DROP TRIGGER IF EXISTS record_deletes ON scaleops.jobs;
        CREATE TRIGGER record_updates AFTER UPDATE ON scaleops.jobs REFERENCING NEW TABLE AS changed
            FOR EACH STATEMENT EXECUTE FUNCTION scaleops.record_rows();
        CREATE TRIGGER record_deletes AFTER DELETE ON scaleops.jobs REFERENCING OLD TABLE AS changed
            FOR EACH STATEMENT EXECUTE FUNCTION scaleops.record_rows();
        TRUNCATE scaleops.statement_rows;
        """;

    private const string StopRecording = """
        DROP TRIGGER IF EXISTS record_updates ON scaleops.jobs;
        DROP TRIGGER IF EXISTS record_deletes ON scaleops.jobs;
        DROP TRIGGER IF EXISTS change_during_run ON scaleops.jobs;
        """;

    private static Task<JobsHost> StartAsync(JobsDatabase database) => JobsHost.StartAsync(database.ConnectionString, o => o.RunWorker = false);

    private async Task<long[]> EnqueueDeadAsync(JobsHost host, string queue, int count, string? uniqueKey = null)
    {
        var ids = new long[count];
        for (var i = 0; i < count; i++)
        {
            ids[i] = (await host.Client.EnqueueAsync(new Ping(i), new JobOptions { Queue = queue, UniqueKey = uniqueKey }))!.Value;
            await database.ExecuteAsync($"UPDATE scaleops.jobs SET state = 'dead', attempt = 25, finished_at = now() WHERE id = {ids[i]}");
        }

        return ids;
    }

    private Task<long> CountAsync(string queue, string state) =>
        database.ScalarAsync<long>($"SELECT count(*) FROM scaleops.jobs WHERE queue = '{queue}' AND state = '{state}'");

    /// <summary>The admin's own statements (trigger depth 1): each changed at most a batch, each in its own transaction; their total.</summary>
    private async Task<long> AssertBatchedAsync(string op)
    {
        var largest = await database.ScalarAsync<long>($"SELECT coalesce(max(n), 0) FROM scaleops.statement_rows WHERE depth = 1 AND op = '{op}'");
        Assert.True(largest <= Batch, $"one {op} statement changed {largest} rows, more than a batch of {Batch}");
        Assert.Equal(
            await database.ScalarAsync<long>($"SELECT count(*) FROM scaleops.statement_rows WHERE depth = 1 AND op = '{op}' AND n > 0"),
            await database.ScalarAsync<long>($"SELECT count(DISTINCT tx) FROM scaleops.statement_rows WHERE depth = 1 AND op = '{op}' AND n > 0"));
        return await database.ScalarAsync<long>($"SELECT coalesce(sum(n), 0)::bigint FROM scaleops.statement_rows WHERE depth = 1 AND op = '{op}'");
    }

    [Fact]
    public async Task Retrying_and_discarding_all_dead_jobs_go_in_batches_and_count_every_job_once()
    {
        await using var host = await StartAsync(database);
        host.Services.GetRequiredService<JobStore>().DeadBatchSize = Batch;
        var plain = await EnqueueDeadAsync(host, "bulk", 23);
        var twice = await EnqueueDeadAsync(host, "bulk", 2, "k1"); // one key died twice: only the newest is retried
        var blocked = await EnqueueDeadAsync(host, "bulk", 1, "k2"); // its key is live again: skipped
        Assert.NotNull(await host.Client.EnqueueAsync(new Ping(99), new JobOptions { Queue = "bulk-live", UniqueKey = "k2" }));
        await EnqueueDeadAsync(host, "bulk-other", 3); // another queue: left alone
        await database.ExecuteAsync(Recorder);
        try
        {
            // While the run goes on, the first batch's first job dies again (it ran and failed at once) and a new job
            // dies: neither is retried by this run, so no job is retried or counted twice and the run ends.
            await database.ExecuteAsync("""
                CREATE OR REPLACE FUNCTION scaleops.change_during_run() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN
                    IF pg_trigger_depth() = 1 AND NOT EXISTS (SELECT 1 FROM scaleops.statement_rows WHERE op = 'INSERT') THEN
                        INSERT INTO scaleops.statement_rows (depth, tx, op, n) VALUES (0, 0, 'INSERT', 0);
                        UPDATE scaleops.jobs SET state = 'dead', finished_at = now() WHERE id = (SELECT min(id) FROM changed);
                        INSERT INTO scaleops.jobs (queue, kind, payload, state, run_at, max_attempts, created_at, finished_at)
                        VALUES ('bulk', 'test.ping', '{"n":100}', 'dead', now(), 3, now(), now());
                    END IF;
                    RETURN NULL;
                END $$;
                CREATE TRIGGER change_during_run AFTER UPDATE ON scaleops.jobs REFERENCING NEW TABLE AS changed
                    FOR EACH STATEMENT EXECUTE FUNCTION scaleops.change_during_run();
                """);

            Assert.Equal(24, await host.Admin.RetryAllDeadAsync("bulk"));
            Assert.Equal(24L, await AssertBatchedAsync("UPDATE"));
            await database.ExecuteAsync("DROP TRIGGER change_during_run ON scaleops.jobs");
            Assert.Equal(JobState.Dead, (await host.Admin.GetAsync(plain[0]))!.State); // retried once, died again
            Assert.Equal(23L, await CountAsync("bulk", "pending")); // 22 plain jobs and the newest of k1
            Assert.Equal((JobState.Dead, JobState.Pending, JobState.Dead), (
                (await host.Admin.GetAsync(twice[0]))!.State, (await host.Admin.GetAsync(twice[1]))!.State, (await host.Admin.GetAsync(blocked[0]))!.State));
            Assert.Equal(4L, await CountAsync("bulk", "dead")); // plain[0], the new one, twice[0], blocked
            Assert.Equal(3L, await CountAsync("bulk-other", "dead"));

            // Everything in the queue dies; discarding deletes all of it in batches, and nothing of the other queue.
            await database.ExecuteAsync("UPDATE scaleops.jobs SET state = 'dead', finished_at = now() WHERE queue = 'bulk'; TRUNCATE scaleops.statement_rows");
            Assert.Equal(27, await host.Admin.DiscardAllDeadAsync("bulk"));
            Assert.Equal(27L, await AssertBatchedAsync("DELETE"));
            Assert.Equal(0L, await database.ScalarAsync<long>("SELECT count(*) FROM scaleops.jobs WHERE queue = 'bulk'"));
            Assert.Equal(3L, await CountAsync("bulk-other", "dead"));
        }
        finally
        {
            await database.ExecuteAsync(StopRecording);
        }
    }

    [Fact]
    public async Task A_cancelled_bulk_retry_stops_between_batches_and_keeps_the_batches_done()
    {
        await using var host = await StartAsync(database);
        host.Services.GetRequiredService<JobStore>().DeadBatchSize = Batch;
        var ids = await EnqueueDeadAsync(host, "bulk-cancel", 12);

        // The third batch waits for a row lock the test holds; the test cancels the call while it waits.
        await using var locker = await database.DataSource.OpenConnectionAsync();
        await using var held = await locker.BeginTransactionAsync();
        await using (var lockRow = new Npgsql.NpgsqlCommand($"SELECT 1 FROM scaleops.jobs WHERE id = {ids[9]} FOR UPDATE", locker, held))
        {
            await lockRow.ExecuteNonQueryAsync();
        }

        using var cancel = new CancellationTokenSource();
        var retry = host.Admin.RetryAllDeadAsync("bulk-cancel", cancel.Token);
        await TestSignal.UntilAsync(
            async () => await database.ScalarAsync<long>(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'") > 0,
            "the bulk retry to wait for the locked row");
        await cancel.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => retry);
        await held.RollbackAsync();

        Assert.Equal(8L, await CountAsync("bulk-cancel", "pending"));
        Assert.Equal(4L, await CountAsync("bulk-cancel", "dead"));
        Assert.Equal(4, await host.Admin.RetryAllDeadAsync("bulk-cancel"));
    }
}
