using System.Collections.Generic;
using System.Linq;
using System.Text.Json;
using System.Threading.Tasks;
using Npgsql;
using ScaleOps.Jobs.Internal;
using ScaleOps.Jobs.Tests.Support;

namespace ScaleOps.Jobs.Tests;

/// <summary>
/// Every fetch counts the running jobs per concurrency key. It must read only the running jobs that have a key: through
/// jobs_running it read every running job of the queue, and every dead entry that index still held (all the jobs run
/// since the last vacuum while a hot standby's feedback holds the cleanup horizon back), on every fetch.
/// </summary>
public class FetchPlanTests(JobsDatabase database) : IClassFixture<JobsDatabase>
{
    private const int RunningWithoutKey = 500;
    private const int RunningWithKey = 3;

    [Fact]
    public async Task The_fetch_counts_running_keys_without_reading_the_running_jobs_that_have_none()
    {
        await database.ExecuteAsync(
            "INSERT INTO scaleops.jobs (queue, kind, tenant_id, payload, state, run_at, max_attempts, created_at, concurrency_key, concurrency_limit) " +
            $"SELECT 'fp', 'ping', '', '{{}}'::json, 'running', now(), 3, now(), NULL, NULL FROM generate_series(1, {RunningWithoutKey}) " +
            $"UNION ALL SELECT 'fp', 'ping', '', '{{}}'::json, 'running', now(), 3, now(), 'host-a', 5 FROM generate_series(1, {RunningWithKey}) " +
            "UNION ALL SELECT 'fp', 'ping', '', '{}'::json, 'pending', now() - interval '1 minute', 3, now(), NULL, NULL FROM generate_series(1, 10)");
        await database.ExecuteAsync("VACUUM ANALYZE scaleops.jobs");

        var plan = await ExplainFetchAsync();
        var runningKeys = Find(plan.RootElement[0].GetProperty("Plan"), "CTE running_keys")
            ?? throw new Xunit.Sdk.XunitException($"no CTE running_keys in the plan:\n{plan.RootElement}");

        // Rows produced or filtered out under the count, times their loops, summed over its plan nodes: a few per node for
        // the 3 keyed jobs (10 with the index), not the 500 others (over 500 through jobs_running).
        var work = Work(runningKeys);
        Assert.True(work < RunningWithoutKey / 10, $"counting the running keys read {work} rows for {RunningWithKey} keyed running jobs:\n{runningKeys}");
        Assert.Contains("jobs_running_keys", runningKeys.ToString(), System.StringComparison.Ordinal);
    }

    /// <summary>The fetch as the worker sends it, as a prepared statement's generic plan, run and rolled back.</summary>
    private async Task<JsonDocument> ExplainFetchAsync()
    {
        var arguments = new Dictionary<string, (string Type, string Sql)>
        {
            ["queue"] = GenericPlan.Literal("text", "fp"),
            ["limit"] = GenericPlan.Literal("integer", "10"),
            ["max_tenants"] = GenericPlan.Literal("integer", "10"),
            ["max_scan"] = GenericPlan.Literal("integer", "110"),
            ["cursor"] = ("text", "NULL::text"), // a first fetch: from the first tenant
            ["tenant_cap"] = GenericPlan.Literal("integer", "0"),
            ["now"] = ("timestamptz", "now()"),
            ["lease"] = ("interval", "interval '5 minutes'"),
        };
        await using var connection = await database.DataSource.OpenConnectionAsync();
        await using var transaction = await connection.BeginTransactionAsync();
        await using var batch = new NpgsqlBatch(connection, transaction);
        var plan = await GenericPlan.ExplainAsync(batch, new JobSql("scaleops").Fetch, arguments);
        await transaction.RollbackAsync();
        return JsonDocument.Parse(plan);
    }

    private static JsonElement? Find(JsonElement node, string subplanName)
    {
        if (node.TryGetProperty("Subplan Name", out var name) && name.GetString() == subplanName)
        {
            return node;
        }

        if (node.TryGetProperty("Plans", out var children))
        {
            foreach (var child in children.EnumerateArray())
            {
                if (Find(child, subplanName) is { } found)
                {
                    return found;
                }
            }
        }

        return null;
    }

    private static long Work(JsonElement node)
    {
        var loops = (long)node.GetProperty("Actual Loops").GetDouble();
        var rows = (long)node.GetProperty("Actual Rows").GetDouble();
        var removed = node.TryGetProperty("Rows Removed by Filter", out var f) ? (long)f.GetDouble() : 0;
        var work = (rows + removed) * loops;
        if (node.TryGetProperty("Plans", out var children))
        {
            work += children.EnumerateArray().Sum(Work);
        }

        return work;
    }
}
