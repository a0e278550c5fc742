using System;
using System.Linq;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using System.Threading.Tasks;
using ScaleOps.TestInfrastructure;

namespace ScaleOps.SampleHost.Tests;

public class AuditEndpointTests(SampleHostFixture host) : IClassFixture<SampleHostFixture>
{
    [Fact]
    public async Task Document_events_reach_the_tenants_own_audit_trail_only()
    {
        using var owner = host.Client(await host.RegisterTenantAsync("audit-owner"));
        using var other = host.Client(await host.RegisterTenantAsync("audit-other"));
        owner.DefaultRequestHeaders.Add("X-User-Id", "alice");
        using var created = await owner.PostAsJsonAsync("/documents", new { title = "audited", body = "b" });
        var id = (await created.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetString();

        var from = DateTimeOffset.UtcNow.AddDays(-1).ToString("O");
        var to = DateTimeOffset.UtcNow.AddDays(1).ToString("O");
        var url = $"/audit?from={Uri.EscapeDataString(from)}&to={Uri.EscapeDataString(to)}";
        JsonElement items = default;
        await TestSignal.UntilAsync(async () =>
        {
            items = (await owner.GetFromJsonAsync<JsonElement>(url)).GetProperty("items");
            return items.GetArrayLength() > 0;
        }, "the batched audit writer to flush the document.created event");

        var item = items.EnumerateArray().Single();
        Assert.Equal("document.created", item.GetProperty("action").GetString());
        Assert.Equal("document", item.GetProperty("entityType").GetString());
        Assert.Equal(id, item.GetProperty("entityId").GetString());
        Assert.Equal("alice", item.GetProperty("actorId").GetString());
        Assert.Equal(
            ["action", "actorId", "at", "entityId", "entityType"],
            item.EnumerateObject().Select(p => p.Name).Order(StringComparer.Ordinal));

        Assert.Equal(0, (await other.GetFromJsonAsync<JsonElement>(url)).GetProperty("items").GetArrayLength());
    }

    [Fact]
    public async Task The_ops_view_shows_that_the_audit_query_reads_only_the_partitions_of_its_range()
    {
        var tenant = await host.RegisterTenantAsync("audit-pruned");
        using var admin = host.Client(tenant, admin: true);
        var now = DateTimeOffset.UtcNow;
        var month = new DateTimeOffset(now.Year, now.Month, 1, 0, 0, 0, TimeSpan.Zero);
        static string Url(DateTimeOffset from, DateTimeOffset to) =>
            $"/ops/audit/partitions?from={Uri.EscapeDataString(from.ToString("O"))}&to={Uri.EscapeDataString(to.ToString("O"))}";
        static string[] Partitions(JsonElement body) => [.. body.GetProperty("partitions").EnumerateArray().Select(p => p.GetString()!)];
        static string Name(DateTimeOffset m) => $"audit_log_p{m.Year:D4}_{m.Month:D2}";

        Assert.Equal([Name(month)], Partitions(await admin.GetFromJsonAsync<JsonElement>(Url(month, month.AddMonths(1)))));
        Assert.Equal(
            [Name(month), Name(month.AddMonths(1))],
            Partitions(await admin.GetFromJsonAsync<JsonElement>(Url(month.AddDays(14), month.AddMonths(1).AddDays(14)))));

        using var withoutKey = host.Client(tenant);
        Assert.Equal(HttpStatusCode.Unauthorized, (await withoutKey.GetAsync(Url(month, month.AddMonths(1)))).StatusCode);
        using var withoutTenant = host.Client(admin: true);
        await ProblemAssert.IsProblemAsync(await withoutTenant.GetAsync(Url(month, month.AddMonths(1))), HttpStatusCode.BadRequest);
        await ProblemAssert.IsProblemAsync(await admin.GetAsync("/ops/audit/partitions?from=2026-01-02T00:00:00Z&to=2026-01-01T00:00:00Z"), HttpStatusCode.BadRequest);
    }

    [Theory]
    [InlineData("/audit")]
    [InlineData("/audit?from=2026-01-01T00:00:00Z")]
    [InlineData("/audit?from=yesterday&to=2026-01-02T00:00:00Z")]
    [InlineData("/audit?from=2026-01-02T00:00:00Z&to=2026-01-01T00:00:00Z")]
    [InlineData("/audit?from=2026-01-01T00:00:00Z&to=2026-04-05T00:00:00Z")]
    [InlineData("/audit?from=2026-01-01&from=2026-01-02&to=2026-01-03")]
    public async Task Bad_ranges_are_400_problems(string url)
    {
        using var client = host.Client(await host.RegisterTenantAsync($"audit-bad-{Math.Abs(url.GetHashCode()) % 100000}"));
        await ProblemAssert.IsProblemAsync(await client.GetAsync(url), HttpStatusCode.BadRequest);
    }

    [Fact]
    public async Task A_range_of_exactly_93_days_is_accepted()
    {
        using var client = host.Client(await host.RegisterTenantAsync("audit-93"));
        using var response = await client.GetAsync("/audit?from=2026-01-01T00:00:00Z&to=2026-04-04T00:00:00Z");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }
}
