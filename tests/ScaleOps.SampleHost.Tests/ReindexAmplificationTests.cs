using System.Net;
using System.Net.Http;
using System.Net.Http.Json;
using System.Text.Json;
using System.Threading.Tasks;
using Microsoft.AspNetCore.Hosting;

namespace ScaleOps.SampleHost.Tests;

/// <summary>The sample host with no job worker: enqueued jobs stay pending, so tests count exactly what a call enqueued.</summary>
public sealed class NoWorkerSampleHostFixture : SampleHostFixture
{
    protected override void ConfigureInstance(IWebHostBuilder web) => web.UseSetting("Sample:RunJobs", "false");
}

/// <summary>
/// <c>POST /documents/reindex</c> is one request of the tenant's rate limit but one job per document: repeated, it must
/// not multiply the jobs in the queue every tenant shares (a pro tenant holds 10,000 documents and may send 100
/// requests a second).
/// </summary>
public class ReindexAmplificationTests(NoWorkerSampleHostFixture host) : IClassFixture<NoWorkerSampleHostFixture>
{
    [Fact]
    public async Task A_repeated_reindex_enqueues_nothing_for_documents_still_waiting_for_their_index_job()
    {
        const string tenant = "reindex-flood";
        using var client = host.Client(await host.RegisterTenantAsync(tenant));
        var ids = new string[3];
        for (var i = 0; i < ids.Length; i++)
        {
            using var created = await client.PostAsJsonAsync("/documents", new { title = $"f{i}", body = "b" });
            Assert.Equal(HttpStatusCode.Created, created.StatusCode);
            ids[i] = (await created.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetString()!;
        }

        // Every document waits for the index job its create enqueued: re-indexing adds nothing, however often.
        for (var call = 0; call < 5; call++)
        {
            Assert.Equal(0, await ReindexAsync(client));
        }

        Assert.Equal(3, await PendingIndexJobsAsync(tenant));

        // Two documents were indexed meanwhile (as a worker does: indexed_at set, the job done): those two are enqueued
        // again, once.
        await using (var indexed = host.DataSource.CreateCommand(
            "UPDATE app.documents SET indexed_at = now() WHERE tenant_id = $1 AND id = ANY ($2::uuid[])"))
        {
            indexed.Parameters.AddWithValue(tenant);
            indexed.Parameters.AddWithValue(new[] { ids[0], ids[1] });
            Assert.Equal(2, await indexed.ExecuteNonQueryAsync());
        }

        await using (var done = host.DataSource.CreateCommand(
            "UPDATE scaleops.jobs SET state = 'succeeded', finished_at = now() WHERE tenant_id = $1 AND payload->>'documentId' = ANY ($2)"))
        {
            done.Parameters.AddWithValue(tenant);
            done.Parameters.AddWithValue(new[] { ids[0], ids[1] });
            Assert.Equal(2, await done.ExecuteNonQueryAsync());
        }

        Assert.Equal(2, await ReindexAsync(client));
        Assert.Equal(0, await ReindexAsync(client));
        Assert.Equal(3, await PendingIndexJobsAsync(tenant));
    }

    private static async Task<int> ReindexAsync(HttpClient client)
    {
        using var response = await client.PostAsync("/documents/reindex", null);
        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        return (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("enqueued").GetInt32();
    }

    private async Task<long> PendingIndexJobsAsync(string tenant)
    {
        await using var command = host.DataSource.CreateCommand(
            "SELECT count(*) FROM scaleops.jobs WHERE kind = 'document.index' AND tenant_id = $1 AND state = 'pending'");
        command.Parameters.AddWithValue(tenant);
        return (long)(await command.ExecuteScalarAsync())!;
    }
}
