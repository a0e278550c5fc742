using System.Net;
using System.Net.Http;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using System.Threading.Tasks;

namespace ScaleOps.SampleHost.Tests;

/// <summary>
/// A tenant's answers as a shared cache in front of the host sees them. The tenant comes from a request header that no
/// cache knows to be a credential (unlike <c>Authorization</c>), and a 200 or 404 without <c>Cache-Control</c> may be
/// stored and served to the next request for the same URL (RFC 9111 3 and 4.2.2, heuristic freshness; Varnish does so
/// by default for two minutes): another tenant's.
/// </summary>
public class TenantResponseStorageTests(SampleHostFixture host) : IClassFixture<SampleHostFixture>
{
    private static string Header(HttpResponseMessage response, string name) =>
        response.Headers.TryGetValues(name, out var values) || response.Content.Headers.TryGetValues(name, out values)
            ? string.Join(", ", values)
            : "";

    [Theory]
    [InlineData("GET", "/documents")]
    [InlineData("HEAD", "/documents")]
    [InlineData("GET", "/documents/{id}")]
    [InlineData("GET", "/documents/00000000-0000-0000-0000-000000000001")]
    [InlineData("PUT", "/documents/{id}")]
    [InlineData("POST", "/documents")]
    [InlineData("POST", "/documents/reindex")]
    [InlineData("GET", "/audit?from=2026-01-01T00:00:00Z&to=2026-02-01T00:00:00Z")]
    [InlineData("GET", "/audit?from=bad&to=worse")]
    public async Task Tenant_responses_are_never_stored_by_a_browser_or_proxy(string method, string path)
    {
        using var client = host.Client(await host.RegisterTenantAsync("store-" + System.Guid.NewGuid().ToString("N")[..12]));
        using var created = await client.PostAsJsonAsync("/documents", new { title = "Secret", body = "of this tenant" });
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        var id = (await created.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetString();

        using var request = new HttpRequestMessage(new HttpMethod(method), path.Replace("{id}", id, System.StringComparison.Ordinal));
        if (method is "PUT" or "POST" && !path.EndsWith("/reindex", System.StringComparison.Ordinal))
        {
            request.Content = new StringContent("{\"title\":\"t\",\"body\":\"b\"}", Encoding.UTF8, "application/json");
        }

        using var response = await client.SendAsync(request);
        Assert.True((int)response.StatusCode < 500, $"{method} {path}: {(int)response.StatusCode}");
        Assert.Equal("no-store", Header(response, "Cache-Control"));
    }

    [Fact]
    public async Task Refusals_of_the_tenant_filter_are_never_stored_either()
    {
        using var unknown = host.Client("store-not-registered");
        using var forbidden = await unknown.GetAsync("/documents");
        await ProblemAssert.IsProblemAsync(forbidden, HttpStatusCode.Forbidden);
        Assert.Equal("no-store", Header(forbidden, "Cache-Control"));

        using var anonymous = host.Client();
        using var missing = await anonymous.GetAsync("/documents");
        await ProblemAssert.IsProblemAsync(missing, HttpStatusCode.BadRequest);
        Assert.Equal("no-store", Header(missing, "Cache-Control"));
    }
}
