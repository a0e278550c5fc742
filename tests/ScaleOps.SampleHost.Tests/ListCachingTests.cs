using System;
using System.Linq;
using System.Net;
using System.Net.Http;
using System.Net.Http.Json;
using System.Text.Json;
using System.Threading.Tasks;
using ScaleOps.SampleHost.Documents;
using ScaleOps.TestInfrastructure;
using StackExchange.Redis;

namespace ScaleOps.SampleHost.Tests;

/// <summary>
/// What <c>GET /documents</c> puts in the cache (Redis, shared by every tenant): it must stay bounded whatever cursors a
/// tenant sends, and a page too large for the cache is still answered.
/// </summary>
public class ListCachingTests(SampleHostFixture host) : IClassFixture<SampleHostFixture>
{
    [Fact]
    public async Task Forged_cursors_do_not_each_add_a_cached_page_to_the_shared_redis()
    {
        const string tenant = "list-cursor-flood";
        using var client = host.Client(await host.RegisterTenantAsync(tenant));
        for (var i = 0; i < 3; i++)
        {
            (await client.PostAsJsonAsync("/documents", new { title = $"d{i}", body = "b" })).EnsureSuccessStatusCode();
        }

        // Any well-formed cursor is accepted (a position to page from), not only one the API returned: each is a new key.
        for (var i = 0; i < 30; i++)
        {
            var forged = Cursor.Encode(DateTimeOffset.UtcNow.AddDays(1).AddTicks(i), Guid.NewGuid());
            using var page = await client.GetAsync($"/documents?limit=100&cursor={forged}");
            Assert.Equal(HttpStatusCode.OK, page.StatusCode);
            Assert.Equal(3, (await page.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("items").GetArrayLength());
        }

        await using var redis = await ConnectionMultiplexer.ConnectAsync(await TcpServer.RedisAsync());
        var pattern = $"sample-tests:{host.Name}:{{{tenant}}}:v*:k:documents:list:*";
        var cached = redis.GetServers().Single().Keys(pattern: pattern).Count();
        Assert.True(cached <= 1, $"{cached} cached list pages in Redis for the tenant after 30 forged cursors ({pattern})");
    }

    [Fact]
    public async Task A_page_larger_than_the_cache_takes_is_answered_not_a_500()
    {
        using var client = host.Client(await host.RegisterTenantAsync("list-large-page"));
        var body = new string('x', DocumentInput.MaxBodyBytes);
        for (var i = 0; i < 17; i++)
        {
            (await client.PostAsJsonAsync("/documents", new { title = $"big{i}", body })).EnsureSuccessStatusCode();
        }

        // 17 bodies of 64 KiB: more than the cache's largest value (ScaleOps:Caching:MaxPayloadBytes, 1 MiB).
        using var response = await client.GetAsync("/documents?limit=100");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(17, (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("items").GetArrayLength());
    }
}
