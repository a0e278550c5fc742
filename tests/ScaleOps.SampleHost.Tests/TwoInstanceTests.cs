using System.Linq;
using System.Net;
using System.Net.Http;
using System.Net.Http.Json;
using System.Text.Json;
using System.Threading.Tasks;
using ScaleOps.TestInfrastructure;

namespace ScaleOps.SampleHost.Tests;

public class TwoInstanceTests(SampleHostFixture host) : IClassFixture<SampleHostFixture>
{
    [Fact]
    public async Task A_write_on_one_instance_invalidates_the_others_cached_copy()
    {
        var second = host.StartAnotherInstance();
        try
        {
            await WriteOnOneInvalidatesTheOtherAsync(second);
        }
        finally
        {
            await SampleHostFixture.DisposeHostAsync(second);
        }
    }

    private async Task WriteOnOneInvalidatesTheOtherAsync(Microsoft.AspNetCore.Mvc.Testing.WebApplicationFactory<Program> second)
    {
        var tenant = await host.RegisterTenantAsync("two-instances");
        using var a = host.Client(tenant);
        using var b = second.CreateClient();
        b.DefaultRequestHeaders.Add("X-Tenant-Id", tenant);

        using var created = await a.PostAsJsonAsync("/documents", new { title = "v1", body = "b" });
        var id = (await created.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetString();
        await TestSignal.UntilAsync(async () =>
            (await a.GetFromJsonAsync<JsonElement>($"/documents/{id}")).GetProperty("indexedAt").ValueKind == JsonValueKind.String,
            "the index job to run (it invalidates once more)");

        // Both instances now hold the document in memory.
        using (await a.GetAsync($"/documents/{id}"))
        using (var cachedOnB = await b.GetAsync($"/documents/{id}"))
        using (var cachedOnA = await a.GetAsync($"/documents/{id}"))
        {
            Assert.Equal("hit", cachedOnA.Headers.GetValues("X-Cache").Single());
            Assert.Equal(HttpStatusCode.OK, cachedOnB.StatusCode);
        }

        using (var put = await b.PutAsJsonAsync($"/documents/{id}", new { title = "v2", body = "b" }))
        {
            Assert.Equal(HttpStatusCode.OK, put.StatusCode);
        }

        // The backplane carries B's invalidation to A's memory: A never keeps serving v1.
        await TestSignal.UntilAsync(async () =>
            (await a.GetFromJsonAsync<JsonElement>($"/documents/{id}")).GetProperty("title").GetString() == "v2",
            "instance A to drop its cached v1 after instance B's write");
    }
}
