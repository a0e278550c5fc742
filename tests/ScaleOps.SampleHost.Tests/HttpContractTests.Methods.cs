using System;
using System.Linq;
using System.Net;
using System.Net.Http;
using System.Threading.Tasks;

namespace ScaleOps.SampleHost.Tests;

/// <summary>Methods: every 405 says which methods the resource allows, HEAD answers as GET does, OPTIONS lists them.</summary>
public partial class HttpContractTests
{
    private static readonly string Range =
        $"from={Uri.EscapeDataString(DateTimeOffset.UtcNow.AddDays(-1).ToString("O"))}&to={Uri.EscapeDataString(DateTimeOffset.UtcNow.AddDays(1).ToString("O"))}";

    /// <summary>One path of each route of every endpoint group, and the methods it allows.</summary>
    public static TheoryData<string, string> Routes() => new()
    {
        { "/documents", "GET, HEAD, POST, OPTIONS" },
        // PUT and DELETE are /documents/{id}'s, which the path also matches: no document has the id "stats" (404).
        { "/documents/stats", "GET, HEAD, PUT, DELETE, OPTIONS" },
        { $"/documents/{Guid.Empty}", "GET, HEAD, PUT, DELETE, OPTIONS" },
        { "/audit", "GET, HEAD, OPTIONS" },
        { "/tenants", "POST, OPTIONS" },
        { $"/tenants/{HttpContractFixture.Tenant}/plan", "PUT, OPTIONS" },
        { "/ops", "GET, HEAD, OPTIONS" },
        { "/ops/health", "GET, HEAD, OPTIONS" },
        { "/ops/migrations", "GET, HEAD, OPTIONS" },
        { "/ops/rls", "GET, HEAD, OPTIONS" },
        { "/ops/partitions", "GET, HEAD, OPTIONS" },
        { "/ops/jobs", "GET, HEAD, OPTIONS" },
        { "/ops/jobs/1/retry", "POST, OPTIONS" },
        { "/ops/jobs/1/discard", "POST, OPTIONS" },
        { "/ops/circuits", "GET, HEAD, OPTIONS" },
        { "/ops/audit/partitions", "GET, HEAD, OPTIONS" },
        { "/ops/audit/backfill", "POST, OPTIONS" },
        { "/ops/partitions/scaleops/audit_log/audit_log_p2000_01/archive", "GET, HEAD, POST, OPTIONS" },
        { "/ops/partitions/scaleops/audit_log/audit_log_p2000_01/restore", "POST, OPTIONS" },
        { "/metrics", "GET, HEAD, OPTIONS" },
    };

    private static string[] Methods(string list) => [.. list.Split(',', StringSplitOptions.TrimEntries).Order(StringComparer.Ordinal)];

    private static string[] AllowOf(HttpResponseMessage response) =>
        [.. response.Content.Headers.Allow.Order(StringComparer.Ordinal)];

    [Theory]
    [MemberData(nameof(Routes))]
    public async Task Every_405_is_a_problem_whose_Allow_header_lists_the_methods_of_the_resource(string path, string allowed)
    {
        foreach (var method in new[] { "GET", "POST", "PUT", "DELETE", "PATCH" }.Except(Methods(allowed)))
        {
            using var response = await SendAsync(method, path);
            await ProblemAssert.IsProblemAsync(response, HttpStatusCode.MethodNotAllowed);
            Assert.True(Methods(allowed).SequenceEqual(AllowOf(response)), $"{method} {path}: Allow: {string.Join(", ", AllowOf(response))}");
        }
    }

    [Theory]
    [MemberData(nameof(Routes))]
    public async Task OPTIONS_answers_204_with_the_methods_of_the_resource(string path, string allowed)
    {
        using var response = await SendAsync("OPTIONS", path);
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.NoContent, $"OPTIONS {path}: {(int)response.StatusCode} {text}");
        Assert.True(Methods(allowed).SequenceEqual(AllowOf(response)), $"OPTIONS {path}: Allow: {string.Join(", ", AllowOf(response))}");
        Assert.Empty(text);
    }

    [Fact]
    public async Task OPTIONS_and_HEAD_of_a_path_that_does_not_exist_are_404()
    {
        await ProblemAssert.IsProblemAsync(await SendAsync("OPTIONS", "/no-such-path"), HttpStatusCode.NotFound);
        using var head = await SendAsync("HEAD", "/no-such-path");
        Assert.Equal(HttpStatusCode.NotFound, head.StatusCode);
    }

    [Theory]
    [InlineData("/documents")]
    [InlineData("/documents/stats")]
    [InlineData("/documents/00000000-0000-0000-0000-000000000000")]
    [InlineData("/audit?{range}")]
    [InlineData("/ops")]
    [InlineData("/ops/health")]
    [InlineData("/ops/migrations")]
    [InlineData("/ops/rls")]
    [InlineData("/ops/partitions")]
    [InlineData("/ops/jobs")]
    [InlineData("/ops/circuits")]
    [InlineData("/ops/audit/partitions?{range}")]
    [InlineData("/ops/partitions/scaleops/audit_log/audit_log_p2000_01/archive")]
    [InlineData("/metrics")]
    public async Task HEAD_answers_what_GET_answers_without_the_body(string path)
    {
        path = path.Replace("{range}", Range, StringComparison.Ordinal);
        using var get = await SendAsync("GET", path);
        using var head = await SendAsync("HEAD", path);
        Assert.True(get.StatusCode == head.StatusCode, $"HEAD {path}: {(int)head.StatusCode}, GET: {(int)get.StatusCode}");
        Assert.Equal(get.Content.Headers.ContentType?.MediaType, head.Content.Headers.ContentType?.MediaType);
        Assert.Empty(await head.Content.ReadAsByteArrayAsync());
        Assert.True((await get.Content.ReadAsByteArrayAsync()).Length > 0, $"GET {path} has no body");
    }
}
