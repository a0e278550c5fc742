using System;
using System.Net;
using System.Threading.Tasks;

namespace ScaleOps.SampleHost.Tests;

/// <summary>Query string parameters of the wrong type, out of range, repeated or missing: a 400 that names the parameter.</summary>
public partial class HttpContractTests
{
    [Theory]
    [InlineData("/documents?limit=abc", "limit")]
    [InlineData("/documents?limit=0", "limit")]
    [InlineData("/documents?limit=101", "limit")]
    [InlineData("/documents?limit=1.5", "limit")]
    [InlineData("/documents?limit=5&limit=6", "limit")]
    [InlineData("/documents?cursor=not-a-cursor", "cursor")]
    [InlineData("/audit", "from")]
    [InlineData("/audit?from=yesterday&to=2026-12-01", "from")]
    [InlineData("/audit?from=2026-11-01&to=tomorrow", "to")]
    [InlineData("/audit?from=2026-11-01&to=2026-10-01", "to")]
    [InlineData("/audit?from=2026-01-01&to=2026-12-01", "from")]
    [InlineData("/audit?{range}&after=not-a-position", "after")]
    [InlineData("/ops/audit/partitions?to=2026-12-01", "from")]
    [InlineData("/ops/audit/partitions?from=2026-11-01&to=2026-11-01T00:00:00Z&to=2026-11-02", "to")]
    public async Task A_bad_query_parameter_is_a_400_naming_it(string url, string parameter)
    {
        using var response = await SendAsync("GET", url.Replace("{range}", Range, StringComparison.Ordinal));
        var body = await IsStandardProblemAsync(response, HttpStatusCode.BadRequest, url);
        Assert.Contains($"\"{parameter}\"", body.GetProperty("detail").GetString(), StringComparison.Ordinal);
    }
}
