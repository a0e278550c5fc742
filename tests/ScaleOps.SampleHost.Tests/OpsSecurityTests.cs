using System;
using System.Linq;
using System.Net;
using System.Net.Http;
using System.Security.Cryptography;
using System.Text;
using System.Text.RegularExpressions;
using System.Threading.Tasks;

namespace ScaleOps.SampleHost.Tests;

/// <summary>The operator's surface (the dashboard page, <c>/ops/*</c> and <c>/tenants</c>) as a browser and a proxy see it.</summary>
public class OpsSecurityTests(SampleHostFixture host) : IClassFixture<SampleHostFixture>
{
    private static string Header(HttpResponseMessage response, string name) =>
        response.Headers.TryGetValues(name, out var values) || response.Content.Headers.TryGetValues(name, out values)
            ? string.Join(", ", values)
            : "";

    private static string InlineHash(string html, string tag)
    {
        var match = Regex.Match(html, $"<{tag}>(.*?)</{tag}>", RegexOptions.Singleline);
        Assert.True(match.Success, $"the page has no <{tag}> element");
        return "'sha256-" + Convert.ToBase64String(SHA256.HashData(Encoding.UTF8.GetBytes(match.Groups[1].Value))) + "'";
    }

    [Fact]
    public async Task The_dashboard_page_has_a_content_security_policy_that_runs_only_its_own_script_and_cannot_be_framed()
    {
        using var client = host.Client();
        using var response = await client.GetAsync("/ops");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var html = await response.Content.ReadAsStringAsync();
        var csp = Header(response, "Content-Security-Policy");
        var directives = csp.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .ToDictionary(d => d.Split(' ')[0], d => d.Split(' ').Skip(1).ToArray(), StringComparer.Ordinal);
        Assert.True(directives.ContainsKey("default-src"), $"no default-src in '{csp}'");
        Assert.Equal(["'none'"], directives["default-src"]);
        Assert.Equal([InlineHash(html, "script")], directives["script-src"]);
        Assert.Equal([InlineHash(html, "style")], directives["style-src"]);
        Assert.Equal(["'self'"], directives["connect-src"]);
        Assert.Equal(["'none'"], directives["frame-ancestors"]);
        Assert.Equal(["'none'"], directives["base-uri"]);
        Assert.Equal(["'none'"], directives["form-action"]);
        Assert.Equal("DENY", Header(response, "X-Frame-Options"));
        Assert.Equal("nosniff", Header(response, "X-Content-Type-Options"));
        Assert.Equal("no-referrer", Header(response, "Referrer-Policy"));
    }

    [Fact]
    public async Task The_dashboard_script_puts_data_in_the_page_only_as_text_and_sends_the_key_only_to_its_own_ops_endpoints()
    {
        using var client = host.Client();
        var html = await client.GetStringAsync("/ops");
        var script = Regex.Match(html, "<script>(.*?)</script>", RegexOptions.Singleline).Groups[1].Value;
        Assert.Contains(".textContent", script, StringComparison.Ordinal);
        foreach (var sink in new[] { "innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "Function(", "setAttribute(\"on",
            "localStorage", "location", ".src", ".href" })
        {
            Assert.DoesNotContain(sink, script, StringComparison.Ordinal);
        }

        // Every fetch goes through api(), whose paths are literal "/ops/..." (same origin): the key is never sent elsewhere.
        Assert.Single(Regex.Matches(script, @"\bfetch\("));
        foreach (Match call in Regex.Matches(script, @"(?<!function )\bapi\(([^,)]*)"))
        {
            Assert.StartsWith("\"/ops/", call.Groups[1].Value, StringComparison.Ordinal);
        }
    }

    [Theory]
    [InlineData("GET", "/ops", true)]
    [InlineData("GET", "/ops/health", false)]
    [InlineData("GET", "/ops/health", true)]
    [InlineData("GET", "/ops/jobs", true)]
    [InlineData("GET", "/ops/jobs", false)]
    [InlineData("GET", "/ops/partitions", true)]
    [InlineData("GET", "/ops/circuits", true)]
    [InlineData("GET", "/ops/migrations", true)]
    [InlineData("GET", "/ops/rls", true)]
    [InlineData("POST", "/ops/jobs/1/retry", true)]
    [InlineData("PUT", "/tenants/no-such-tenant/plan", true)]
    public async Task Operator_responses_are_never_stored_by_a_browser_or_proxy(string method, string path, bool admin)
    {
        using var client = host.Client(admin: admin);
        using var request = new HttpRequestMessage(new HttpMethod(method), path);
        if (method == "PUT")
        {
            request.Content = new StringContent("{\"plan\":\"pro\"}", Encoding.UTF8, "application/json");
        }

        using var response = await client.SendAsync(request);
        Assert.True((int)response.StatusCode < 500, $"{method} {path}: {(int)response.StatusCode}");
        Assert.Equal("no-store", Header(response, "Cache-Control"));
        Assert.Equal("nosniff", Header(response, "X-Content-Type-Options"));
    }
}
