using System.Linq;
using System.Net;
using System.Net.Http;
using System.Net.Http.Json;
using System.Text.Json;
using System.Threading.Tasks;
using ScaleOps.TestInfrastructure;

namespace ScaleOps.SampleHost.Tests;

public class CachingTests(SampleHostFixture host) : IClassFixture<SampleHostFixture>
{
    private static string CacheHeader(HttpResponseMessage response) => response.Headers.GetValues("X-Cache").Single();

    [Fact]
    public async Task Reads_are_a_miss_then_a_hit_and_a_write_invalidates_them()
    {
        using var client = host.Client(await host.RegisterTenantAsync("cache-flow"));
        using var created = await client.PostAsJsonAsync("/documents", new { title = "v1", body = "b" });
        var id = (await created.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetString();

        // The first read after a write is a miss. (The index job invalidates the documents once more after it has set
        // indexedAt; wait until the job has succeeded, which is after its handler returned, so the hit below is not
        // raced by that invalidation.)
        using (var first = await client.GetAsync($"/documents/{id}"))
        {
            Assert.Equal("miss", CacheHeader(first));
        }

        await TestSignal.UntilAsync(async () =>
            (await client.GetFromJsonAsync<JsonElement>($"/documents/{id}")).GetProperty("indexedAt").ValueKind == JsonValueKind.String,
            "the index job to run");
        await host.UntilIndexJobsSucceededAsync("cache-flow", 1);
        using (var warm = await client.GetAsync($"/documents/{id}"))
        using (var second = await client.GetAsync($"/documents/{id}"))
        {
            Assert.Equal("hit", CacheHeader(second));
        }

        using (var list1 = await client.GetAsync("/documents?limit=5"))
        using (var list2 = await client.GetAsync("/documents?limit=5"))
        {
            Assert.Equal("miss", CacheHeader(list1));
            Assert.Equal("hit", CacheHeader(list2));
        }

        using (var put = await client.PutAsJsonAsync($"/documents/{id}", new { title = "v2", body = "b" }))
        {
            Assert.Equal(HttpStatusCode.OK, put.StatusCode);
        }

        using var after = await client.GetAsync($"/documents/{id}");
        Assert.Equal("miss", CacheHeader(after));
        Assert.Equal("v2", (await after.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("title").GetString());
        var list = await client.GetFromJsonAsync<JsonElement>("/documents?limit=5");
        Assert.Equal("v2", list.GetProperty("items")[0].GetProperty("title").GetString());
    }

    [Fact]
    public async Task A_cached_entry_of_one_tenant_is_never_served_to_another()
    {
        using var owner = host.Client(await host.RegisterTenantAsync("cache-owner"));
        using var other = host.Client(await host.RegisterTenantAsync("cache-other"));
        using var created = await owner.PostAsJsonAsync("/documents", new { title = "mine", body = "b" });
        var id = (await created.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetString();
        using (await owner.GetAsync($"/documents/{id}"))
        using (await owner.GetAsync("/documents?limit=5"))
        {
        }

        using var stolen = await other.GetAsync($"/documents/{id}");
        Assert.Equal(HttpStatusCode.NotFound, stolen.StatusCode);
        var list = await other.GetFromJsonAsync<JsonElement>("/documents?limit=5");
        Assert.Equal(0, list.GetProperty("items").GetArrayLength());
    }
}
