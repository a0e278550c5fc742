using System;
using System.Collections.Generic;
using System.Linq;
using System.Net;
using System.Net.Http;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using System.Threading.Tasks;
using Microsoft.Extensions.DependencyInjection;

namespace ScaleOps.SampleHost.Tests;

public class DocumentEndpointTests(SampleHostFixture host) : IClassFixture<SampleHostFixture>
{
    private static async Task<JsonElement> CreateAsync(HttpClient client, string title, string body = "text")
    {
        using var response = await client.PostAsJsonAsync("/documents", new { title, body });
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        var json = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal($"/documents/{json.GetProperty("id").GetString()}", response.Headers.Location?.ToString());
        return json;
    }

    [Fact]
    public async Task A_document_round_trips_with_the_contract_fields()
    {
        using var client = host.Client(await host.RegisterTenantAsync("doc-fields"));
        var created = await CreateAsync(client, "Title", "Body");
        Assert.Equal(
            ["body", "createdAt", "id", "indexedAt", "title", "updatedAt"],
            created.EnumerateObject().Select(p => p.Name).Order(StringComparer.Ordinal));

        using var get = await client.GetAsync($"/documents/{created.GetProperty("id").GetString()}");
        Assert.Equal(HttpStatusCode.OK, get.StatusCode);
        Assert.True(get.Headers.Contains("X-Cache"));
        var fetched = await get.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal("Body", fetched.GetProperty("body").GetString());

        using var put = await client.PutAsJsonAsync($"/documents/{created.GetProperty("id").GetString()}", new { title = "New", body = "B2" });
        Assert.Equal(HttpStatusCode.OK, put.StatusCode);
        Assert.Equal("New", (await put.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("title").GetString());

        using var delete = await client.DeleteAsync($"/documents/{created.GetProperty("id").GetString()}");
        Assert.Equal(HttpStatusCode.NoContent, delete.StatusCode);
        using var gone = await client.GetAsync($"/documents/{created.GetProperty("id").GetString()}");
        await ProblemAssert.IsProblemAsync(gone, HttpStatusCode.NotFound);
    }

    [Fact]
    public async Task Another_tenants_document_is_404_on_every_endpoint()
    {
        using var owner = host.Client(await host.RegisterTenantAsync("iso-owner"));
        using var other = host.Client(await host.RegisterTenantAsync("iso-other"));
        var id = (await CreateAsync(owner, "Secret")).GetProperty("id").GetString();

        await ProblemAssert.IsProblemAsync(await other.GetAsync($"/documents/{id}"), HttpStatusCode.NotFound);
        await ProblemAssert.IsProblemAsync(await other.PutAsJsonAsync($"/documents/{id}", new { title = "x", body = "y" }), HttpStatusCode.NotFound);
        await ProblemAssert.IsProblemAsync(await other.DeleteAsync($"/documents/{id}"), HttpStatusCode.NotFound);
        var list = await other.GetFromJsonAsync<JsonElement>("/documents");
        Assert.Equal(0, list.GetProperty("items").GetArrayLength());

        using var stillThere = await owner.GetAsync($"/documents/{id}");
        Assert.Equal("Secret", (await stillThere.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("title").GetString());
    }

    [Fact]
    public async Task Listing_is_newest_first_with_an_opaque_keyset_cursor()
    {
        using var client = host.Client(await host.RegisterTenantAsync("doc-pages"));
        var titles = new List<string>();
        for (var i = 0; i < 7; i++)
        {
            titles.Add((await CreateAsync(client, $"doc {i}")).GetProperty("title").GetString()!);
        }

        var seen = new List<string>();
        string? cursor = null;
        var pages = 0;
        do
        {
            var page = await client.GetFromJsonAsync<JsonElement>(cursor is null ? "/documents?limit=3" : $"/documents?limit=3&cursor={cursor}");
            seen.AddRange(page.GetProperty("items").EnumerateArray().Select(d => d.GetProperty("title").GetString()!));
            cursor = page.GetProperty("nextCursor").GetString();
            pages++;
        }
        while (cursor is not null && pages < 10);

        titles.Reverse();
        Assert.Equal(titles, seen);
        Assert.Equal(3, pages);
    }

    [Theory]
    [InlineData("/documents?limit=0")]
    [InlineData("/documents?limit=101")]
    [InlineData("/documents?limit=abc")]
    [InlineData("/documents?limit=1&limit=2")]
    [InlineData("/documents?cursor=garbage")]
    [InlineData("/documents?cursor=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA%3D")]
    public async Task Bad_list_parameters_are_400_problems(string url)
    {
        using var client = host.Client(await host.RegisterTenantAsync($"bad-list-{Math.Abs(url.GetHashCode()) % 100000}"));
        await ProblemAssert.IsProblemAsync(await client.GetAsync(url), HttpStatusCode.BadRequest);
    }

    public static TheoryData<string> BadBodies => new()
    {
        "{\"title\":\"\",\"body\":\"x\"}",
        "{\"title\":\"" + new string('t', 201) + "\",\"body\":\"x\"}",
        "{\"title\":\"ok\"}",
        "{\"title\":\"ok\",\"body\":\"" + new string('b', 64 * 1024 + 1) + "\"}",
        "{\"title\":\"nul\\u0000\",\"body\":\"x\"}",
        "{\"title\":5,\"body\":\"x\"}",
        "[1,2,3]",
        "{",
        "",
    };

    [Theory]
    [MemberData(nameof(BadBodies))]
    public async Task Bad_document_bodies_are_400_problems_on_post_and_put(string json)
    {
        using var client = host.Client(await host.RegisterTenantAsync($"bad-body-{Math.Abs(json.GetHashCode()) % 100000}"));
        await ProblemAssert.IsProblemAsync(
            await client.PostAsync("/documents", new StringContent(json, Encoding.UTF8, "application/json")), HttpStatusCode.BadRequest);
        var id = (await CreateAsync(client, "target")).GetProperty("id").GetString();
        await ProblemAssert.IsProblemAsync(
            await client.PutAsync($"/documents/{id}", new StringContent(json, Encoding.UTF8, "application/json")), HttpStatusCode.BadRequest);
    }

    [Fact]
    public async Task Oversized_bodies_are_413_and_wrong_content_types_415()
    {
        using var client = host.Client(await host.RegisterTenantAsync("too-big"));
        var huge = "{\"title\":\"t\",\"body\":\"" + new string('b', 600 * 1024) + "\"}";
        await ProblemAssert.IsProblemAsync(
            await client.PostAsync("/documents", new StringContent(huge, Encoding.UTF8, "application/json")), HttpStatusCode.RequestEntityTooLarge);
        await ProblemAssert.IsProblemAsync(
            await client.PostAsync("/documents", new StringContent("title=x", Encoding.UTF8, "text/plain")), HttpStatusCode.UnsupportedMediaType);
    }

    [Fact]
    public async Task A_body_of_unknown_length_over_the_limit_is_413()
    {
        // A chunked request has no Content-Length: the limit must hold while the body is read, not only against the
        // announced length. (The in-memory test server announces one, so the reader is called directly here.)
        var context = new Microsoft.AspNetCore.Http.DefaultHttpContext();
        context.Request.ContentType = "application/json";
        context.Request.Body = new System.IO.MemoryStream(Encoding.UTF8.GetBytes("{\"title\":\"t\",\"body\":\"b\"}" + new string(' ', 600 * 1024)));
        Assert.Null(context.Request.ContentLength);

        var (value, problem) = await ScaleOps.SampleHost.Http.JsonBody.ReadAsync<ScaleOps.SampleHost.Documents.DocumentInput>(context.Request);

        Assert.Null(value);
        Assert.Equal(413, Assert.IsAssignableFrom<Microsoft.AspNetCore.Http.IStatusCodeHttpResult>(problem).StatusCode);
    }

    [Fact]
    public async Task Unknown_tenant_ids_are_refused_without_filling_the_tenant_cache()
    {
        var directory = host.Factory.Services.GetRequiredService<ScaleOps.SampleHost.Tenancy.TenantDirectory>();
        var before = directory.CachedCount;
        for (var i = 0; i < 200; i++)
        {
            // Each from an address of its own: one address may send only a few unregistered ids a minute (then 429).
            using var client = host.Client($"ghost-{i}", address: $"10.0.{i / 250}.{(i % 250) + 1}");
            Assert.Equal(HttpStatusCode.Forbidden, (await client.GetAsync("/documents")).StatusCode);
        }

        Assert.True(directory.CachedCount - before < 10, $"{directory.CachedCount - before} unknown tenant ids were cached");
    }

    [Theory]
    [InlineData(null, HttpStatusCode.BadRequest)]
    [InlineData("", HttpStatusCode.BadRequest)]
    [InlineData("UPPER", HttpStatusCode.BadRequest)]
    [InlineData("has space", HttpStatusCode.BadRequest)]
    [InlineData("x'--", HttpStatusCode.BadRequest)]
    [InlineData("not-registered", HttpStatusCode.Forbidden)]
    public async Task The_tenant_header_is_checked_on_every_document_endpoint(string? tenant, HttpStatusCode expected)
    {
        using var client = host.Client();
        var id = Guid.NewGuid();
        foreach (var request in new[]
        {
            new HttpRequestMessage(HttpMethod.Get, "/documents"),
            new HttpRequestMessage(HttpMethod.Get, $"/documents/{id}"),
            new HttpRequestMessage(HttpMethod.Post, "/documents") { Content = JsonContent.Create(new { title = "t", body = "b" }) },
            new HttpRequestMessage(HttpMethod.Put, $"/documents/{id}") { Content = JsonContent.Create(new { title = "t", body = "b" }) },
            new HttpRequestMessage(HttpMethod.Delete, $"/documents/{id}"),
        })
        {
            if (tenant is not null)
            {
                request.Headers.TryAddWithoutValidation("X-Tenant-Id", tenant);
            }

            using (request)
            {
                await ProblemAssert.IsProblemAsync(await client.SendAsync(request), expected);
            }
        }
    }

    [Fact]
    public async Task Malformed_document_ids_are_404_not_500()
    {
        using var client = host.Client(await host.RegisterTenantAsync("bad-ids"));
        await ProblemAssert.IsProblemAsync(await client.GetAsync("/documents/not-a-guid"), HttpStatusCode.NotFound);
        await ProblemAssert.IsProblemAsync(await client.DeleteAsync("/documents/%27%3B--"), HttpStatusCode.NotFound);
    }
}
