using System;
using System.Collections.Generic;
using System.Linq;
using System.Text.Json;
using System.Text.RegularExpressions;
using System.Threading.Tasks;
using Npgsql;
using ScaleOps.Jobs.Internal;
using ScaleOps.Jobs.Tests.Support;

namespace ScaleOps.Jobs.Tests;

/// <summary>
/// The batch statements that act on running jobs by (id, lease) must find each id by primary key whatever the table's
/// statistics say. A queue's statistics are often taken while no job runs; a generic plan built on them once scanned
/// every running job per id, so that completing 2,000 jobs took seconds (a benchmark found it).
/// </summary>
public class CompletionPlanTests(JobsDatabase database) : IClassFixture<JobsDatabase>
{
    private const int Jobs = 9000;
    private const int Running = 7000;
    private const int Batch = 2000;

    private static readonly Dictionary<string, (string Type, string Value)> Parameters = new()
    {
        ["ids"] = ("bigint[]", "{" + string.Join(',', Enumerable.Range(1, Batch)) + "}"),
        ["leases"] = ("bigint[]", "{" + string.Join(',', Enumerable.Repeat(1, Batch)) + "}"),
        ["errors"] = ("text[]", "{" + string.Join(',', Enumerable.Repeat("boom", Batch)) + "}"),
        ["retry_ats"] = ("timestamptz[]", "{" + string.Join(',', Enumerable.Repeat("\"2030-01-01 00:00:00+00\"", Batch)) + "}"),
        ["dead"] = ("boolean[]", "{" + string.Join(',', Enumerable.Repeat("false", Batch)) + "}"),
        ["now"] = ("timestamptz", "2026-01-01 00:00:00+00"),
        ["lease_until"] = ("timestamptz", "2030-01-01 00:00:00+00"),
    };

    public static TheoryData<string> Statements => new() { "SucceedMany", "DeleteSucceededMany", "FailMany", "Heartbeat", "Release" };

    [Theory]
    [MemberData(nameof(Statements))]
    public async Task A_batch_of_running_jobs_is_found_by_primary_key_even_when_statistics_say_none_runs(string statement)
    {
        // Statistics taken while every job was pending, then most of them start: what a queue's table looks like
        // after a burst. Autovacuum is off for this table so the statistics stay as taken.
        await database.ExecuteAsync("TRUNCATE scaleops.jobs");
        await database.ExecuteAsync("ALTER TABLE scaleops.jobs SET (autovacuum_enabled = false)");
        await database.ExecuteAsync(
            $"INSERT INTO scaleops.jobs (id, queue, kind, tenant_id, payload, priority, run_at, max_attempts, created_at) " +
            $"SELECT g, 'plan', 'ping', '', '{{}}', 2, now(), 3, now() FROM generate_series(1, {Jobs}) g");
        await database.ExecuteAsync("ANALYZE scaleops.jobs");
        await database.ExecuteAsync(
            $"UPDATE scaleops.jobs SET state = 'running', attempt = 1, lease_id = 1, lease_until = now() + interval '1 hour' WHERE id <= {Running}");

        var sql = (string)typeof(JobSql).GetProperty(statement)!.GetValue(new JobSql("scaleops"))!;
        var names = new List<string>();
        var numbered = Regex.Replace(sql, @"@([a-z_]+)", m =>
        {
            var name = m.Groups[1].Value;
            if (!names.Contains(name))
            {
                names.Add(name);
            }

            return "$" + (names.IndexOf(name) + 1);
        });

        await using var connection = await database.DataSource.OpenConnectionAsync();
        await using var transaction = await connection.BeginTransactionAsync();
        await using (var set = new NpgsqlCommand("SET LOCAL plan_cache_mode = force_generic_plan", connection, transaction))
        {
            await set.ExecuteNonQueryAsync();
        }

        var types = string.Join(", ", names.Select(n => Parameters[n].Type));
        await using (var prepare = new NpgsqlCommand($"PREPARE batch_plan ({types}) AS {numbered}", connection, transaction))
        {
            await prepare.ExecuteNonQueryAsync();
        }

        var values = string.Join(", ", names.Select(n => $"'{Parameters[n].Value}'::{Parameters[n].Type}"));
        string plan;
        await using (var explain = new NpgsqlCommand($"EXPLAIN (ANALYZE, FORMAT JSON) EXECUTE batch_plan ({values})", connection, transaction))
        {
            plan = (string)(await explain.ExecuteScalarAsync())!;
        }

        await transaction.RollbackAsync();

        using var document = JsonDocument.Parse(plan);
        var (affected, read) = (0L, 0L);
        Walk(document.RootElement[0].GetProperty("Plan"));
        Assert.Equal(Batch, affected);
        Assert.True(read <= Batch, $"{statement} read {read} rows of scaleops.jobs to change {Batch} (a scan of the running jobs, not a lookup per id):\n{plan}");

        void Walk(JsonElement node)
        {
            var type = node.GetProperty("Node Type").GetString()!;
            var loops = node.GetProperty("Actual Loops").GetInt64();
            var rows = node.GetProperty("Actual Rows").GetInt64();
            if (type == "ModifyTable")
            {
                // Affected rows: the modify node returns none unless there is RETURNING; its input says how many.
                affected = node.TryGetProperty("Plans", out var input) ? input[0].GetProperty("Actual Rows").GetInt64() : rows;
            }
            else if (node.TryGetProperty("Relation Name", out var relation) && relation.GetString() == "jobs")
            {
                var removed = node.TryGetProperty("Rows Removed by Filter", out var r) ? r.GetInt64() : 0;
                read += (rows + removed) * loops;
            }

            if (node.TryGetProperty("Plans", out var children))
            {
                foreach (var child in children.EnumerateArray())
                {
                    Walk(child);
                }
            }
        }
    }
}
