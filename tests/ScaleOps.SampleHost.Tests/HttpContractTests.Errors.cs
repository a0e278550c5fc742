using System;
using System.Collections.Generic;
using System.Net;
using System.Net.Http;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using System.Threading.Tasks;

namespace ScaleOps.SampleHost.Tests;

/// <summary>Error bodies: one type and title per status, whoever answers (an endpoint or the framework), and a trace id.</summary>
public partial class HttpContractTests
{
    /// <summary>The type and title of every status the host answers with a problem (RFC 9110's names and sections).</summary>
    public static readonly IReadOnlyDictionary<int, (string Type, string Title)> Kinds = new Dictionary<int, (string, string)>
    {
        [400] = ("https://tools.ietf.org/html/rfc9110#section-15.5.1", "Bad Request"),
        [401] = ("https://tools.ietf.org/html/rfc9110#section-15.5.2", "Unauthorized"),
        [403] = ("https://tools.ietf.org/html/rfc9110#section-15.5.4", "Forbidden"),
        [404] = ("https://tools.ietf.org/html/rfc9110#section-15.5.5", "Not Found"),
        [405] = ("https://tools.ietf.org/html/rfc9110#section-15.5.6", "Method Not Allowed"),
        [409] = ("https://tools.ietf.org/html/rfc9110#section-15.5.10", "Conflict"),
        [413] = ("https://tools.ietf.org/html/rfc9110#section-15.5.14", "Content Too Large"),
        [415] = ("https://tools.ietf.org/html/rfc9110#section-15.5.16", "Unsupported Media Type"),
        [422] = ("https://tools.ietf.org/html/rfc9110#section-15.5.21", "Unprocessable Content"),
        [429] = ("https://tools.ietf.org/html/rfc6585#section-4", "Too Many Requests"),
        [500] = ("https://tools.ietf.org/html/rfc9110#section-15.6.1", "Internal Server Error"),
        [503] = ("https://tools.ietf.org/html/rfc9110#section-15.6.4", "Service Unavailable"),
    };

    /// <summary>
    /// Asserts a problem of <paramref name="status"/> with that status's type and title, a W3C trace id, and nothing of
    /// .NET's in it (type names, stack frames).
    /// </summary>
    public static async Task<JsonElement> IsStandardProblemAsync(HttpResponseMessage response, HttpStatusCode status, string what)
    {
        var body = await ProblemAssert.IsProblemAsync(response, status);
        var (type, title) = Kinds[(int)status];
        Assert.True(type == body.GetProperty("type").GetString(), $"{what}: type {body.GetProperty("type")}");
        Assert.True(title == body.GetProperty("title").GetString(), $"{what}: title {body.GetProperty("title")}");
        Assert.Matches(new Regex("^00-[0-9a-f]{32}-[0-9a-f]{16}-0[01]$"), body.GetProperty("traceId").GetString());
        var text = body.GetRawText();
        foreach (var leak in new[] { "System.", "ScaleOps.", "Npgsql", "Exception", "   at ", ".cs:line" })
        {
            Assert.DoesNotContain(leak, text, StringComparison.Ordinal);
        }

        return body;
    }

    [Fact]
    public async Task Every_error_of_a_status_has_that_statuss_type_and_title_and_a_trace_id_whoever_answers()
    {
        using var client = host.Http();
        using var anonymous = new HttpClient { BaseAddress = host.BaseAddress };
        var cases = new List<(string What, Func<Task<HttpResponseMessage>> Send, HttpStatusCode Status)>
        {
            ("endpoint 400", () => client.GetAsync("/documents?limit=abc"), HttpStatusCode.BadRequest),
            ("filter 400", () => anonymous.GetAsync("/documents"), HttpStatusCode.BadRequest),
            ("filter 401", () => anonymous.GetAsync("/ops/jobs"), HttpStatusCode.Unauthorized),
            ("filter 403", () => Send(anonymous, HttpMethod.Get, "/documents", ("X-Tenant-Id", "http-contract-nobody")), HttpStatusCode.Forbidden),
            ("endpoint 404", () => client.GetAsync($"/documents/{Guid.Empty}"), HttpStatusCode.NotFound),
            ("routing 404", () => client.GetAsync("/no-such-path"), HttpStatusCode.NotFound),
            ("routing 405", () => client.DeleteAsync("/documents"), HttpStatusCode.MethodNotAllowed),
            ("endpoint 409", () => client.PostAsJsonAsync("/tenants", new { id = HttpContractFixture.Tenant, plan = "pro" }), HttpStatusCode.Conflict),
            ("endpoint 409 (no Blob storage)", () => client.PostAsync("/ops/partitions/scaleops/audit_log/audit_log_p2000_01/archive", null), HttpStatusCode.Conflict),
            ("endpoint 413", () => client.PostAsync("/documents", new StringContent(new string(' ', 600 * 1024), Encoding.UTF8, "application/json")),
                HttpStatusCode.RequestEntityTooLarge),
            ("endpoint 415", () => client.PostAsync("/documents", new StringContent("{}", Encoding.UTF8, "text/plain")), HttpStatusCode.UnsupportedMediaType),
        };
        foreach (var (what, send, status) in cases)
        {
            using var response = await send();
            await IsStandardProblemAsync(response, status, what);
        }

        // Wrong admin keys from one address (a test address of its own): the 11th answer is the budget's 429.
        HttpResponseMessage? refused = null;
        for (var i = 0; i < 20 && refused is null; i++)
        {
            var response = await Send(anonymous, HttpMethod.Get, "/ops/jobs", ("X-Admin-Key", "wrong-key"), (SampleHostFixture.ClientAddressHeader, "192.0.2.77"));
            if (response.StatusCode == HttpStatusCode.TooManyRequests)
            {
                refused = response;
            }
            else
            {
                response.Dispose();
            }
        }

        Assert.NotNull(refused);
        using (refused)
        {
            await IsStandardProblemAsync(refused, HttpStatusCode.TooManyRequests, "wrong admin keys 429");
        }
    }

    [Theory]
    [InlineData("/ops/jobs")]
    [InlineData("/tenants")]
    [InlineData("/ops/partitions/scaleops/audit_log/audit_log_p2000_01/archive")]
    public async Task A_401_names_the_scheme_it_wants_in_WWW_Authenticate(string path)
    {
        // RFC 9110 11.6.1: a 401 carries at least one challenge. Not Basic: a browser would open its login dialog.
        using var anonymous = new HttpClient { BaseAddress = host.BaseAddress };
        using var response = await Send(anonymous, path == "/tenants" ? HttpMethod.Post : HttpMethod.Get, path, (SampleHostFixture.ClientAddressHeader, "192.0.2.78"));
        await IsStandardProblemAsync(response, HttpStatusCode.Unauthorized, path);
        var challenge = Assert.Single(response.Headers.WwwAuthenticate);
        Assert.Equal("X-Admin-Key", challenge.Scheme);
    }

    private static async Task<HttpResponseMessage> Send(HttpClient client, HttpMethod method, string path, params (string Name, string Value)[] headers)
    {
        using var request = new HttpRequestMessage(method, path);
        foreach (var (name, value) in headers)
        {
            request.Headers.Add(name, value);
        }

        return await client.SendAsync(request);
    }
}
