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
    public async Task Job_admin_endpoints_need_the_admin_key_and_name_missing_jobs()
    {
        using var anonymous = host.Client();
        await ProblemAssert.IsProblemAsync(await anonymous.GetAsync("/ops/jobs"), HttpStatusCode.Unauthorized);
        using var admin = host.Client(admin: true);
        await ProblemAssert.IsProblemAsync(await admin.PostAsync("/ops/jobs/999999/retry", null), HttpStatusCode.NotFound);
        await ProblemAssert.IsProblemAsync(await admin.PostAsync("/ops/jobs/999999/discard", null), HttpStatusCode.NotFound);
    }
}
