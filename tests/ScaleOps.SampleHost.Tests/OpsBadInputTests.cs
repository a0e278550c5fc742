using System;
using System.Net;
using System.Net.Http;
using System.Net.Http.Headers;
using System.Text;
using System.Threading.Tasks;

namespace ScaleOps.SampleHost.Tests;

/// <summary>Bad input to the operator's endpoints: a 4xx with problem details, never a 500, a stack trace or an internal address.</summary>
public class OpsBadInputTests(SampleHostFixture host) : IClassFixture<SampleHostFixture>
{
    [Theory]
    [InlineData("POST", "/ops/jobs/abc/retry", null, HttpStatusCode.NotFound)]
    [InlineData("POST", "/ops/jobs/99999999999999999999999/discard", null, HttpStatusCode.NotFound)]
    [InlineData("POST", "/ops/jobs/-1/retry", null, HttpStatusCode.NotFound)]
    [InlineData("POST", "/ops/jobs/0/discard", null, HttpStatusCode.NotFound)]
    [InlineData("GET", "/ops/jobs/1/retry", null, HttpStatusCode.MethodNotAllowed)]
    [InlineData("DELETE", "/ops/jobs", null, HttpStatusCode.MethodNotAllowed)]
    [InlineData("GET", "/ops/no-such-page", null, HttpStatusCode.NotFound)]
    [InlineData("POST", "/ops/partitions/scaleops/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa/p/archive", null,
        HttpStatusCode.BadRequest)]
    [InlineData("GET", "/ops/audit/partitions?from=yesterday&to=now", null, HttpStatusCode.BadRequest)]
    [InlineData("PUT", "/tenants/UPPER/plan", "{\"plan\":\"pro\"}", HttpStatusCode.BadRequest)]
    [InlineData("PUT", "/tenants/ok-id/plan", "[1,2,3]", HttpStatusCode.BadRequest)]
    [InlineData("PUT", "/tenants/ok-id/plan", "{\"plan\":[\"pro\"]}", HttpStatusCode.BadRequest)]
    [InlineData("PUT", "/tenants/ok-id/plan", "{\"plan\":\"pro\"} trailing", HttpStatusCode.BadRequest)]
    [InlineData("POST", "/tenants", "{\"id\":\"deep\",\"plan\":\"free\",\"x\":" + "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[" + "]", HttpStatusCode.BadRequest)]
    [InlineData("POST", "/tenants", "{\"id\":\"ok-id\",\"plan\":\"\\ud800\"}", HttpStatusCode.BadRequest)]
    [InlineData("POST", "/tenants", "{\"id\":\"ok-id\",\"plan\":\"__proto__\"}", HttpStatusCode.BadRequest)]
    public async Task Bad_operator_requests_are_4xx_problems_without_internals(string method, string path, string? json, HttpStatusCode expected)
    {
        using var client = host.Client(admin: true);
        using var request = new HttpRequestMessage(new HttpMethod(method), path);
        if (json is not null)
        {
            request.Content = new StringContent(json, Encoding.UTF8, "application/json");
        }

        using var response = await client.SendAsync(request);
        await AssertCleanProblemAsync(response, expected);
    }

    [Fact]
    public async Task A_body_that_is_not_UTF8_is_a_400_problem()
    {
        using var client = host.Client(admin: true);
        using var content = new ByteArrayContent([.. Encoding.ASCII.GetBytes("{\"id\":\"ok-id\",\"plan\":\""), 0xC3, 0x28, 0xFF, .. Encoding.ASCII.GetBytes("\"}")]);
        content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        using var response = await client.PostAsync("/tenants", content);
        await AssertCleanProblemAsync(response, HttpStatusCode.BadRequest);
    }

    [Theory]
    [InlineData("")]
    [InlineData(" ")]
    [InlineData("test-admin-key-0123456789 ")]
    [InlineData("TEST-ADMIN-KEY-0123456789")]
    public async Task A_wrong_or_empty_admin_key_is_a_401_problem(string key)
    {
        using var client = host.Client();
        using var request = new HttpRequestMessage(HttpMethod.Get, "/ops/jobs");
        request.Headers.TryAddWithoutValidation("X-Admin-Key", key);
        using var response = await client.SendAsync(request);
        await AssertCleanProblemAsync(response, HttpStatusCode.Unauthorized);
    }

    private static async Task AssertCleanProblemAsync(HttpResponseMessage response, HttpStatusCode expected)
    {
        var body = await ProblemAssert.IsProblemAsync(response, expected);
        var text = body.GetRawText();
        foreach (var leak in new[] { "   at ", "Exception", "Npgsql", "Host=", "127.0.0.1", "localhost", ".cs:line" })
        {
            Assert.DoesNotContain(leak, text, StringComparison.Ordinal);
        }
    }
}
