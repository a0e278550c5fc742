using System;
using System.Collections.Generic;
using System.Linq;
using System.Net;
using System.Net.Http;
using System.Net.Http.Json;
using System.Text.Json;
using System.Threading.Tasks;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.Time.Testing;
using ScaleOps.SampleHost.Documents;
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

    [Fact]
    public async Task The_document_count_is_cached_and_a_write_drops_it()
    {
        using var client = host.Client(await host.RegisterTenantAsync("stats-write"));
        using (var first = await client.GetAsync("/documents/stats"))
        using (var second = await client.GetAsync("/documents/stats"))
        {
            Assert.Equal("miss", CacheHeader(first));
            Assert.Equal("hit", CacheHeader(second));
            Assert.Equal(0, (await second.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("documents").GetInt64());
        }

        (await client.PostAsJsonAsync("/documents", new { title = "t", body = "b" })).EnsureSuccessStatusCode();
        using var after = await client.GetAsync("/documents/stats");
        Assert.Equal("miss", CacheHeader(after));
        Assert.Equal(1, (await after.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("documents").GetInt64());

        // PUT and DELETE on the path are /documents/{id}'s: no document is called "stats".
        await ProblemAssert.IsProblemAsync(await client.PutAsJsonAsync("/documents/stats", new { title = "x", body = "y" }), HttpStatusCode.NotFound);
        await ProblemAssert.IsProblemAsync(await client.DeleteAsync("/documents/stats"), HttpStatusCode.NotFound);
    }

    [Fact]
    public async Task A_read_of_the_count_in_the_second_half_of_its_freshness_answers_from_the_cache_and_counts_again_in_the_background()
    {
        var tenant = await host.RegisterTenantAsync("stats-eager");
        // An instance whose clock stands still unless the test moves it: the count never expires while the test waits.
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var instance = host.StartInstanceOnClock(clock);
        try
        {
            using var client = instance.CreateClient();
            client.DefaultRequestHeaders.Add("X-Tenant-Id", tenant);
            async Task<(string Cache, DateTimeOffset CountedAt)> ReadAsync()
            {
                using var response = await client.GetAsync("/documents/stats");
                Assert.Equal(HttpStatusCode.OK, response.StatusCode);
                return (CacheHeader(response), (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("countedAt").GetDateTimeOffset());
            }

            var (cache, counted) = await ReadAsync();
            Assert.Equal("miss", cache);
            var expiration = DocumentEndpoints.CachedStats.Expiration!.Value;

            // Not due yet: in the first half of the freshness, a hit and nothing else.
            clock.Advance(expiration * 0.25);
            Assert.Equal(("hit", counted), await ReadAsync());

            // Due (three quarters of the freshness gone, none of it left past the expiration): the value is answered at once.
            clock.Advance(expiration * 0.5);
            Assert.Equal(("hit", counted), await ReadAsync());

            // The count ran again in the background: a later read, still a hit, has the new count, with the clock unmoved.
            var seen = new List<string>();
            await TestSignal.UntilAsync(async () =>
            {
                var read = await ReadAsync();
                seen.Add(read.Cache);
                return read.CountedAt != counted;
            }, "the eager refresh of the count");
            Assert.All(seen, c => Assert.Equal("hit", c));
        }
        finally
        {
            await SampleHostFixture.DisposeHostAsync(instance);
        }
    }
}
