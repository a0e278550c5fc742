using System.Linq;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using System.Threading.Tasks;
using ScaleOps.TestInfrastructure;

namespace ScaleOps.SampleHost.Tests;

public class JobTests(SampleHostFixture host) : IClassFixture<SampleHostFixture>
{
    [Fact]
    public async Task The_index_job_enqueued_with_the_document_sets_indexed_at()
    {
        using var client = host.Client(await host.RegisterTenantAsync("jobs-index"));
        using var created = await client.PostAsJsonAsync("/documents", new { title = "to index", body = "b" });
        var document = await created.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal(JsonValueKind.Null, document.GetProperty("indexedAt").ValueKind);
        var id = document.GetProperty("id").GetString();

        await TestSignal.UntilAsync(async () =>
        {
            var current = await client.GetFromJsonAsync<JsonElement>($"/documents/{id}");
            return current.GetProperty("indexedAt").ValueKind == JsonValueKind.String;
        }, "the index job to set indexedAt");

        // indexedAt is written inside the handler; the job's own row turns succeeded only after the handler returns.
        await host.UntilIndexJobsSucceededAsync("jobs-index", 1);
        using var admin = host.Client(admin: true);
        var jobs = await admin.GetFromJsonAsync<JsonElement>("/ops/jobs");
        var indexing = jobs.GetProperty("queues").EnumerateArray().Single(q => q.GetProperty("queue").GetString() == "indexing");
        Assert.True(indexing.GetProperty("succeeded").GetInt64() >= 1);
        Assert.Equal(0, jobs.GetProperty("dead").GetArrayLength());
    }

    [Fact]
    public async Task A_document_refused_by_its_quota_leaves_no_job_behind()
    {
        using var client = host.Client(await host.RegisterTenantAsync("jobs-quota", "free"));
        for (var i = 0; i <= SampleHostFixture.FreeMaxDocuments; i++)
        {
            using var response = await client.PostAsJsonAsync("/documents", new { title = $"d{i}", body = "b" });
            Assert.Equal(i < SampleHostFixture.FreeMaxDocuments ? HttpStatusCode.Created : HttpStatusCode.Forbidden, response.StatusCode);
        }

        await using var command = host.DataSource.CreateCommand(
            "SELECT count(*) FROM scaleops.jobs WHERE tenant_id = 'jobs-quota'");
        Assert.Equal((long)SampleHostFixture.FreeMaxDocuments, await command.ExecuteScalarAsync());
    }

    [Fact]
    public async Task Reindex_enqueues_one_low_priority_job_per_document_of_the_tenant_alone_and_each_is_indexed_again()
    {
        using var client = host.Client(await host.RegisterTenantAsync("jobs-reindex"));
        using var other = host.Client(await host.RegisterTenantAsync("jobs-reindex-other"));
        (await other.PostAsJsonAsync("/documents", new { title = "theirs", body = "b" })).Dispose();
        var ids = new string[3];
        for (var i = 0; i < ids.Length; i++)
        {
            using var created = await client.PostAsJsonAsync("/documents", new { title = $"r{i}", body = "b" });
            ids[i] = (await created.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetString()!;
        }

        await TestSignal.UntilAsync(async () => await PendingOrRunningAsync() == 0, "the first index jobs to finish");

        using var response = await client.PostAsync("/documents/reindex", null);
        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        Assert.Equal(3, (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("enqueued").GetInt32());

        await using (var command = host.DataSource.CreateCommand(
            "SELECT tenant_id, priority, count(*) FROM scaleops.jobs WHERE kind = 'document.index' AND tenant_id LIKE 'jobs-reindex%' GROUP BY 1, 2 ORDER BY 1, 2"))
        await using (var reader = await command.ExecuteReaderAsync())
        {
            var groups = new System.Collections.Generic.List<string>();
            while (await reader.ReadAsync())
            {
                groups.Add($"{reader.GetString(0)}:{reader.GetInt16(1)}:{reader.GetInt64(2)}");
            }

            // Standard (2) from each create, low (3) from the reindex; the other tenant's document is not re-indexed.
            Assert.Equal(["jobs-reindex:2:3", "jobs-reindex:3:3", "jobs-reindex-other:2:1"], groups);
        }

        await TestSignal.UntilAsync(async () =>
        {
            foreach (var id in ids)
            {
                var current = await client.GetFromJsonAsync<JsonElement>($"/documents/{id}");
                if (current.GetProperty("indexedAt").ValueKind != JsonValueKind.String)
                {
                    return false;
                }
            }

            return true;
        }, "the reindex jobs to set indexedAt again");

        async Task<long> PendingOrRunningAsync()
        {
            await using var command = host.DataSource.CreateCommand(
                "SELECT count(*) FROM scaleops.jobs WHERE tenant_id = 'jobs-reindex' AND state IN ('pending', 'running')");
            return (long)(await command.ExecuteScalarAsync())!;
        }
    }

    [Fact]
    public async Task Reindex_needs_a_tenant()
    {
        using var anonymous = host.Client();
        await ProblemAssert.IsProblemAsync(await anonymous.PostAsync("/documents/reindex", null), HttpStatusCode.BadRequest);
    }

    [Fact]
    public async Task Job_admin_endpoints_need_the_admin_key_and_name_missing_jobs()
    {
        using var anonymous = host.Client();
        await ProblemAssert.IsProblemAsync(await anonymous.GetAsync("/ops/jobs"), HttpStatusCode.Unauthorized);
        using var admin = host.Client(admin: true);
        await ProblemAssert.IsProblemAsync(await admin.PostAsync("/ops/jobs/999999/retry", null), HttpStatusCode.NotFound);
        await ProblemAssert.IsProblemAsync(await admin.PostAsync("/ops/jobs/999999/discard", null), HttpStatusCode.NotFound);
    }
}
