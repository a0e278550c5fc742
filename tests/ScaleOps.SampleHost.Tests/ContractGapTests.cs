using System;
using System.Linq;
using System.Net;
using System.Net.Http;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using System.Threading.Tasks;
using ScaleOps.SampleHost.Documents;
using ScaleOps.TestInfrastructure;

namespace ScaleOps.SampleHost.Tests;

/// <summary>Contract claims the other test classes did not reach: isolation of audit, quotas, rate budgets and cursors; edge input.</summary>
public class ContractGapTests(SampleHostFixture host) : IClassFixture<SampleHostFixture>
{
    private static readonly string Range =
        $"from={Uri.EscapeDataString(DateTimeOffset.UtcNow.AddDays(-1).ToString("O"))}&to={Uri.EscapeDataString(DateTimeOffset.UtcNow.AddDays(1).ToString("O"))}";

    private static async Task<string> CreateAsync(HttpClient client, string title)
    {
        using var response = await client.PostAsJsonAsync("/documents", new { title, body = "b" });
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        return (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetString()!;
    }

    private static async Task<string[]> AuditActionsAsync(HttpClient client)
    {
        var body = await client.GetFromJsonAsync<JsonElement>($"/audit?{Range}");
        return [.. body.GetProperty("items").EnumerateArray().Select(i => $"{i.GetProperty("action").GetString()}:{i.GetProperty("entityId").GetString()}")];
    }

    [Fact]
    public async Task Refused_cross_tenant_writes_leave_no_audit_entry_in_either_trail()
    {
        using var owner = host.Client(await host.RegisterTenantAsync("gap-audit-owner"));
        using var other = host.Client(await host.RegisterTenantAsync("gap-audit-other"));
        var secret = await CreateAsync(owner, "secret");

        await ProblemAssert.IsProblemAsync(await other.PutAsJsonAsync($"/documents/{secret}", new { title = "x", body = "y" }), HttpStatusCode.NotFound);
        await ProblemAssert.IsProblemAsync(await other.DeleteAsync($"/documents/{secret}"), HttpStatusCode.NotFound);
        // Written after the refused attempts: once the batched writer has flushed it, anything they wrote is visible too.
        var own = await CreateAsync(other, "own");
        await TestSignal.UntilAsync(async () => (await AuditActionsAsync(other)).Length > 0 && (await AuditActionsAsync(owner)).Length > 0,
            "the batched audit writer to flush both tenants' document.created events");

        Assert.Equal([$"document.created:{secret}"], await AuditActionsAsync(owner));
        Assert.Equal([$"document.created:{own}"], await AuditActionsAsync(other));
    }

    [Fact]
    public async Task One_tenants_full_quota_and_spent_rate_budget_do_not_refuse_another()
    {
        using var full = host.Client(await host.RegisterTenantAsync("gap-quota-full", "free"));
        using var fresh = host.Client(await host.RegisterTenantAsync("gap-quota-fresh", "free"));
        var refusedByQuota = false;
        for (var i = 0; i < 40 && !refusedByQuota; i++)
        {
            using var response = await full.PostAsJsonAsync("/documents", new { title = $"d{i}", body = "b" });
            refusedByQuota = response.StatusCode == HttpStatusCode.Forbidden;
        }

        Assert.True(refusedByQuota, "the free tenant never reached its document quota");
        var burst = await Task.WhenAll(Enumerable.Range(0, 30).Select(_ => full.GetAsync("/documents?limit=1")));
        Assert.Contains(burst, r => r.StatusCode == HttpStatusCode.TooManyRequests);
        foreach (var r in burst)
        {
            r.Dispose();
        }

        // The other tenant of the same plan: its own bucket (full) and its own quota (empty).
        using var created = await fresh.PostAsJsonAsync("/documents", new { title = "mine", body = "b" });
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
    }

    [Fact]
    public async Task Another_tenants_cursor_pages_only_through_the_callers_documents()
    {
        using var owner = host.Client(await host.RegisterTenantAsync("gap-cursor-owner"));
        using var other = host.Client(await host.RegisterTenantAsync("gap-cursor-other"));
        var mine = await CreateAsync(other, "older, mine");
        var theirs = new[] { await CreateAsync(owner, "a"), await CreateAsync(owner, "b"), await CreateAsync(owner, "c") };
        var page = await owner.GetFromJsonAsync<JsonElement>("/documents?limit=1");
        var cursor = page.GetProperty("nextCursor").GetString();
        Assert.NotNull(cursor);

        var stolen = await other.GetFromJsonAsync<JsonElement>($"/documents?limit=100&cursor={cursor}");
        var ids = stolen.GetProperty("items").EnumerateArray().Select(i => i.GetProperty("id").GetString()!).ToArray();
        Assert.Equal([mine], ids);
        Assert.Empty(ids.Intersect(theirs));
    }

    [Theory]
    [InlineData("after=garbage")]
    [InlineData("after=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA&after=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")]
    [InlineData("after=")]
    public async Task A_bad_audit_after_is_a_400_problem(string after)
    {
        using var client = host.Client(await host.RegisterTenantAsync($"gap-after-{Math.Abs(after.GetHashCode()) % 100000}"));
        await ProblemAssert.IsProblemAsync(await client.GetAsync($"/audit?{Range}&{after}"), HttpStatusCode.BadRequest);
    }

    [Theory]
    [InlineData("/audit?from=9999-12-01T00:00:00Z&to=9999-12-31T23:59:59Z")]
    [InlineData("/audit?from=0001-01-01T00:00:00Z&to=0001-01-31T00:00:00Z")]
    [InlineData("/ops/audit/partitions?from=9999-12-01T00:00:00Z&to=9999-12-31T23:59:59Z")]
    [InlineData("/ops/audit/partitions?from=0001-01-01T00:00:00Z&to=0001-01-31T00:00:00Z")]
    public async Task A_range_at_the_ends_of_the_calendar_is_answered_not_a_500(string url)
    {
        using var client = host.Client(await host.RegisterTenantAsync($"gap-ends-{Math.Abs(url.GetHashCode()) % 100000}"), admin: true);
        using var response = await client.GetAsync(url);
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode is HttpStatusCode.OK or HttpStatusCode.BadRequest, $"{(int)response.StatusCode}: {text}");
        if (response.StatusCode == HttpStatusCode.BadRequest)
        {
            await ProblemAssert.IsProblemAsync(response, HttpStatusCode.BadRequest);
        }
    }

    [Theory]
    [InlineData("max")]
    [InlineData("min")]
    public async Task A_well_formed_cursor_at_the_ends_of_time_is_answered_not_a_500(string end)
    {
        using var client = host.Client(await host.RegisterTenantAsync($"gap-cursor-{end}"));
        await CreateAsync(client, "one");
        var cursor = Cursor.Encode(end == "max" ? DateTimeOffset.MaxValue : DateTimeOffset.MinValue, Guid.Empty);
        using var response = await client.GetAsync($"/documents?cursor={cursor}");
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode is HttpStatusCode.OK or HttpStatusCode.BadRequest, $"{(int)response.StatusCode}: {text}");
    }

    [Theory]
    [InlineData("/documents?limit=-1")]
    [InlineData("/documents?limit=+5")]
    [InlineData("/documents?limit=")]
    [InlineData("/documents?limit=99999999999")]
    [InlineData("/documents?cursor=")]
    public async Task More_bad_list_parameters_are_400_problems(string url)
    {
        using var client = host.Client(await host.RegisterTenantAsync($"gap-list-{Math.Abs(url.GetHashCode()) % 100000}"));
        await ProblemAssert.IsProblemAsync(await client.GetAsync(url), HttpStatusCode.BadRequest);
    }

    [Fact]
    public async Task Two_tenant_headers_are_a_400_problem_on_documents_and_audit()
    {
        await host.RegisterTenantAsync("gap-two-a");
        await host.RegisterTenantAsync("gap-two-b");
        using var client = host.Client();
        foreach (var path in new[] { "/documents", $"/audit?{Range}" })
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, path);
            request.Headers.TryAddWithoutValidation("X-Tenant-Id", ["gap-two-a", "gap-two-b"]);
            await ProblemAssert.IsProblemAsync(await client.SendAsync(request), HttpStatusCode.BadRequest);
        }
    }

    [Fact]
    public async Task Put_refuses_oversized_bodies_wrong_content_types_and_bad_ids_with_problems()
    {
        using var client = host.Client(await host.RegisterTenantAsync("gap-put"));
        var id = await CreateAsync(client, "target");
        var huge = "{\"title\":\"t\",\"body\":\"" + new string('b', 600 * 1024) + "\"}";
        await ProblemAssert.IsProblemAsync(
            await client.PutAsync($"/documents/{id}", new StringContent(huge, Encoding.UTF8, "application/json")), HttpStatusCode.RequestEntityTooLarge);
        await ProblemAssert.IsProblemAsync(
            await client.PutAsync($"/documents/{id}", new StringContent("title=x", Encoding.UTF8, "application/x-www-form-urlencoded")), HttpStatusCode.UnsupportedMediaType);
        await ProblemAssert.IsProblemAsync(
            await client.PutAsJsonAsync("/documents/not-a-guid", new { title = "x", body = "y" }), HttpStatusCode.NotFound);
        var unchanged = await client.GetFromJsonAsync<JsonElement>($"/documents/{id}");
        Assert.Equal("target", unchanged.GetProperty("title").GetString());
    }

    [Theory]
    [InlineData("{\"title\":\"shown\",\"body\":\"x\",\"title\":\"stored\"}")]
    [InlineData("{\"title\":\"shown\",\"body\":\"x\",\"Title\":\"stored\"}")]
    public async Task A_document_body_naming_a_field_twice_is_a_400_problem_on_post_and_put(string json)
    {
        // A field named twice means one thing to one parser (the first) and another to the next (the last): ambiguous input.
        using var client = host.Client(await host.RegisterTenantAsync($"gap-dup-{Math.Abs(json.GetHashCode()) % 100000}"));
        var body = await ProblemAssert.IsProblemAsync(
            await client.PostAsync("/documents", new StringContent(json, Encoding.UTF8, "application/json")), HttpStatusCode.BadRequest);
        Assert.Contains("title", body.GetProperty("detail").GetString(), StringComparison.OrdinalIgnoreCase);
        var id = await CreateAsync(client, "target");
        await ProblemAssert.IsProblemAsync(
            await client.PutAsync($"/documents/{id}", new StringContent(json, Encoding.UTF8, "application/json")), HttpStatusCode.BadRequest);
        Assert.Equal(["target"], (await client.GetFromJsonAsync<JsonElement>("/documents")).GetProperty("items").EnumerateArray()
            .Select(i => i.GetProperty("title").GetString()!));
    }

    [Theory]
    [InlineData("{\"title\":5}", "$.title")]
    [InlineData("{\"title\":\"a\"", "$")]
    [InlineData("[1]", "$")]
    public async Task A_body_the_endpoint_cannot_read_is_a_400_that_says_where_without_naming_net_types(string json, string path)
    {
        using var client = host.Client(await host.RegisterTenantAsync($"gap-json-{Math.Abs(json.GetHashCode()) % 100000}"));
        var body = await ProblemAssert.IsProblemAsync(
            await client.PostAsync("/documents", new StringContent(json, Encoding.UTF8, "application/json")), HttpStatusCode.BadRequest);
        var detail = body.GetProperty("detail").GetString()!;
        Assert.Contains($"at {path} ", detail, StringComparison.Ordinal);
        Assert.DoesNotContain("ScaleOps.", detail, StringComparison.Ordinal);
        Assert.DoesNotContain("System.", detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_tenant_registration_naming_the_plan_twice_is_a_400_problem_and_registers_nothing()
    {
        using var admin = host.Client(admin: true);
        await ProblemAssert.IsProblemAsync(
            await admin.PostAsync("/tenants", new StringContent("{\"id\":\"gap-dup-plan\",\"plan\":\"free\",\"plan\":\"pro\"}", Encoding.UTF8, "application/json")),
            HttpStatusCode.BadRequest);
        using var client = host.Client("gap-dup-plan");
        await ProblemAssert.IsProblemAsync(await client.GetAsync("/documents"), HttpStatusCode.Forbidden);
    }

    [Fact]
    public async Task Refused_cross_tenant_deletes_give_no_quota_back_to_either_tenant()
    {
        using var owner = host.Client(await host.RegisterTenantAsync("gap-qdel-owner", "free"));
        using var other = host.Client(await host.RegisterTenantAsync("gap-qdel-other", "free"));
        var owned = new string[SampleHostFixture.FreeMaxDocuments];
        for (var i = 0; i < owned.Length; i++)
        {
            using var created = await PacedAsync(() => owner.PostAsJsonAsync("/documents", new { title = $"o{i}", body = "b" }));
            Assert.Equal(HttpStatusCode.Created, created.StatusCode);
            owned[i] = (await created.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetString()!;
            using var own = await PacedAsync(() => other.PostAsJsonAsync("/documents", new { title = $"x{i}", body = "b" }));
            Assert.Equal(HttpStatusCode.Created, own.StatusCode);
        }

        foreach (var id in owned)
        {
            await ProblemAssert.IsProblemAsync(await PacedAsync(() => other.DeleteAsync($"/documents/{id}")), HttpStatusCode.NotFound);
        }

        foreach (var client in new[] { owner, other })
        {
            var refused = await ProblemAssert.IsProblemAsync(
                await PacedAsync(() => client.PostAsJsonAsync("/documents", new { title = "one too many", body = "b" })), HttpStatusCode.Forbidden);
            Assert.Equal(SampleHostFixture.FreeMaxDocuments, refused.GetProperty("usage").GetInt32());
        }
    }

    // The free plan's rate is small in the tests: wait out a 429 for its Retry-After (bounded) so the quota is what answers.
    private static async Task<HttpResponseMessage> PacedAsync(Func<Task<HttpResponseMessage>> send)
    {
        for (var attempt = 0; ; attempt++)
        {
            var response = await send();
            if (response.StatusCode != HttpStatusCode.TooManyRequests || attempt >= 20)
            {
                return response;
            }

            var retryAfter = int.Parse(response.Headers.GetValues("Retry-After").Single(), System.Globalization.CultureInfo.InvariantCulture);
            response.Dispose();
            await Task.Delay(TimeSpan.FromSeconds(Math.Min(retryAfter, 2)));
        }
    }

    [Theory]
    [InlineData("PATCH", "/documents/00000000-0000-0000-0000-000000000000", HttpStatusCode.MethodNotAllowed)]
    [InlineData("POST", "/documents/00000000-0000-0000-0000-000000000000", HttpStatusCode.MethodNotAllowed)]
    [InlineData("DELETE", "/documents", HttpStatusCode.MethodNotAllowed)]
    [InlineData("POST", "/audit", HttpStatusCode.MethodNotAllowed)]
    [InlineData("GET", "/tenants", HttpStatusCode.MethodNotAllowed)]
    [InlineData("GET", "/no-such-path", HttpStatusCode.NotFound)]
    public async Task Routes_and_methods_the_api_does_not_have_are_problems(string method, string path, HttpStatusCode expected)
    {
        using var client = host.Client(await host.RegisterTenantAsync($"gap-route-{Math.Abs((method + path).GetHashCode()) % 100000}"));
        using var request = new HttpRequestMessage(new HttpMethod(method), path);
        await ProblemAssert.IsProblemAsync(await client.SendAsync(request), expected);
    }

    [Fact]
    public async Task A_tenant_id_of_63_characters_is_looked_up_and_one_of_64_is_malformed()
    {
        using var longest = host.Client(new string('a', 63));
        await ProblemAssert.IsProblemAsync(await longest.GetAsync("/documents"), HttpStatusCode.Forbidden);
        using var tooLong = host.Client(new string('a', 64));
        await ProblemAssert.IsProblemAsync(await tooLong.GetAsync("/documents"), HttpStatusCode.BadRequest);
    }
}
