using System;
using System.Collections.Generic;
using System.Linq;
using System.Text.Json;
using System.Threading.Tasks;
using Microsoft.Extensions.Options;
using Npgsql;
using ScaleOps.Jobs.Internal;
using ScaleOps.Jobs.Tests.Support;

namespace ScaleOps.Jobs.Tests;

/// <summary>
/// The batch statements that act on running jobs by (id, lease) (complete, fail, heartbeat, release) must do work in
/// proportion to the table and the batch whatever the table's statistics say. A queue's statistics are often out of
/// step with it: with statistics taken while it was nearly empty, a plan joined by nested loop and scanned every running
/// job once per id, so that completing 2,000 jobs took seconds (the benchmark found it).
/// </summary>
public class CompletionPlanTests(JobsDatabase database) : IClassFixture<JobsDatabase>
{
    private const int Jobs = 40000;
    private const int Running = 7000;
    private const int Batch = 2000;

    private static Dictionary<string, (string Type, string Value)> Parameters(int batch) => new()
    {
        ["ids"] = ("bigint[]", "{" + string.Join(',', Enumerable.Range(2 * Jobs - batch + 1, batch)) + "}"),
        ["leases"] = ("bigint[]", "{" + string.Join(',', Enumerable.Repeat(1, batch)) + "}"),
        ["errors"] = ("text[]", "{" + string.Join(',', Enumerable.Repeat("boom", batch)) + "}"),
        ["retry_ats"] = ("timestamptz[]", "{" + string.Join(',', Enumerable.Repeat("\"2030-01-01 00:00:00+00\"", batch)) + "}"),
        ["dead"] = ("boolean[]", "{" + string.Join(',', Enumerable.Repeat("false", batch)) + "}"),
        ["now"] = ("timestamptz", "2026-01-01 00:00:00+00"),
        ["lease"] = ("interval", "1 hour"),
    };

    private static readonly string[] StatementNames = ["SucceedMany", "DeleteSucceededMany", "FailMany", "Heartbeat", "Release"];

    /// <summary>Every lease statement in both forms of its row condition (by primary key, through jobs_running).</summary>
    public static TheoryData<string, bool> Statements()
    {
        var data = new TheoryData<string, bool>();
        foreach (var name in StatementNames)
        {
            data.Add(name, true);
            data.Add(name, false);
        }

        return data;
    }

    public static TheoryData<string, bool> StatementsAndStatistics() => Statements();

    [Theory]
    [MemberData(nameof(Statements))]
    public async Task A_batch_of_running_jobs_is_matched_in_one_pass_even_when_the_statistics_are_stale(string statement, bool byKey)
    {
        var (affected, work, plan) = await RunAsync(statement, byKey, Batch);
        Assert.Equal(Batch, affected);

        // Every row a plan node produced or filtered out, times its loops: one pass over each side is at most a few times
        // the table plus the batch; a nested loop that rescans one side per row of the other is millions.
        var bound = 4L * (Jobs + 5 + Batch);
        Assert.True(work <= bound, $"{statement} did {work} row visits for a batch of {Batch} on a table of {Jobs + 5} rows (at most {bound} expected):\n{plan}");
    }

    [Theory]
    [MemberData(nameof(StatementsAndStatistics))]
    public async Task A_small_batch_finds_its_rows_by_key_not_by_reading_every_running_job(string statement, bool staleStatistics)
    {
        // 7,000 running jobs, 10 leases: the small batch's form reads its 10 rows by primary key, with fresh statistics or
        // stale ones (which make the table look nearly empty). Through jobs_running it would read every running job and
        // every dead entry that index still holds (a hot standby's feedback or a long transaction keeps them): thousands
        // of rows for ten.
        await SetUpAsync(staleStatistics);
        var lease = (JobSql.LeaseStatement)typeof(JobSql).GetProperty(statement)!.GetValue(new JobSql("scaleops"))!;
        Assert.Same(lease.ByKey, lease.For(10));
        Assert.Same(lease.ByKey, lease.For(JobSql.LeaseStatement.ByKeyMaxBatch));
        Assert.Same(lease.Scan, lease.For(JobSql.LeaseStatement.ByKeyMaxBatch + 1));

        var (affected, work, plan) = await RunAsync(statement, byKey: true, size: 10, setUp: false);
        Assert.Equal(10, affected);
        Assert.True(work <= 200, $"{statement} did {work} row visits for a batch of 10 among {Running} running jobs (at most 200 expected):\n{plan}");
        var (_, scanWork, _) = await RunAsync(statement, byKey: false, size: 10, setUp: false);
        Assert.True(scanWork > work, $"the scan form did {scanWork} row visits, the key form {work}: the test no longer shows the difference");
    }

    private async Task SetUpAsync(bool staleStatistics)
    {
        // Stale: statistics taken while the table was nearly empty (VACUUM saw 5 rows), then a burst refills it and most of
        // the new jobs start: what a queue's table looks like after an idle spell. Autovacuum is off for this table so the
        // statistics stay as taken.
        await database.ExecuteAsync("TRUNCATE scaleops.jobs");
        await database.ExecuteAsync("ALTER TABLE scaleops.jobs SET (autovacuum_enabled = false)");
        await InsertAsync(1, Jobs);
        await database.ExecuteAsync($"DELETE FROM scaleops.jobs WHERE id <= {Jobs - 5}");
        await database.ExecuteAsync("VACUUM ANALYZE scaleops.jobs");
        await InsertAsync(Jobs + 1, 2 * Jobs);
        await database.ExecuteAsync(
            $"UPDATE scaleops.jobs SET state = 'running', attempt = 1, lease_id = 1, lease_until = now() + interval '1 hour' WHERE id > {2 * Jobs - Running}");
        if (!staleStatistics)
        {
            await database.ExecuteAsync("VACUUM ANALYZE scaleops.jobs");
        }
    }

    /// <summary>Runs one lease statement as the worker sends it and returns the rows it changed, its row visits and its plan.</summary>
    private async Task<(long Affected, long Work, string Plan)> RunAsync(string statement, bool byKey, int size, bool setUp = true)
    {
        if (setUp)
        {
            await SetUpAsync(staleStatistics: true);
        }

        var lease = (JobSql.LeaseStatement)typeof(JobSql).GetProperty(statement)!.GetValue(new JobSql("scaleops"))!;
        var arguments = Parameters(size).ToDictionary(p => p.Key, p => GenericPlan.Literal(p.Value.Type, p.Value.Value));

        // The statement as the worker sends it: in the store's batch for such statements, as a prepared statement's
        // generic plan (what it runs on after five executions).
        var store = new JobStore(database.DataSource, Options.Create(new ScaleOpsOptions { Schema = "scaleops" }));
        string plan;
        await using (var connection = await database.DataSource.OpenConnectionAsync())
        await using (var transaction = await connection.BeginTransactionAsync())
        {
            await using var batch = store.NewLeaseBatch(connection, transaction);
            plan = await GenericPlan.ExplainAsync(batch, byKey ? lease.ByKey : lease.Scan, arguments);
            await transaction.RollbackAsync();
        }

        using var document = JsonDocument.Parse(plan);
        var (affected, work) = (0L, 0L);
        Walk(document.RootElement[0].GetProperty("Plan"));
        return (affected, work, plan);

        void Walk(JsonElement node)
        {
            var loops = (long)node.GetProperty("Actual Loops").GetDouble();
            var rows = (long)node.GetProperty("Actual Rows").GetDouble();
            if (node.GetProperty("Node Type").GetString() == "ModifyTable")
            {
                // The modify node returns rows only for RETURNING; its input (its outer child: an InitPlan, such as the
                // heartbeat's read of the database's clock, comes first) says how many it changed.
                affected = node.TryGetProperty("Plans", out var input)
                    ? (long)input.EnumerateArray().First(p => p.GetProperty("Parent Relationship").GetString() == "Outer")
                        .GetProperty("Actual Rows").GetDouble()
                    : rows;
            }

            var removed = (node.TryGetProperty("Rows Removed by Filter", out var f) ? (long)f.GetDouble() : 0)
                + (node.TryGetProperty("Rows Removed by Join Filter", out var jf) ? (long)jf.GetDouble() : 0);
            work += (rows + removed) * loops;
            if (node.TryGetProperty("Plans", out var children))
            {
                foreach (var child in children.EnumerateArray())
                {
                    Walk(child);
                }
            }
        }
    }

    private Task InsertAsync(int from, int to) => database.ExecuteAsync(
        "INSERT INTO scaleops.jobs (id, queue, kind, tenant_id, payload, priority, run_at, max_attempts, created_at) " +
        $"SELECT g, 'plan', 'ping', '', '{{}}', 2, now(), 3, now() FROM generate_series({from}, {to}) g");
}
