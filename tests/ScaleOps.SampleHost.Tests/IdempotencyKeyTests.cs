using System;
using System.Linq;
using System.Net;
using System.Net.Http;
using System.Net.Http.Json;
using System.Text.Json;
using System.Threading.Tasks;

namespace ScaleOps.SampleHost.Tests;

/// <summary>
/// <c>Idempotency-Key</c> on <c>POST /documents</c>: a retry of a create whose reply was lost returns the document it
/// created (one row, one unit of quota, one index job) instead of creating another; per tenant, never across tenants.
/// </summary>
public partial class IdempotencyKeyTests(SampleHostFixture host) : IClassFixture<SampleHostFixture>
{
    private static HttpRequestMessage Post(string? key, string title, string body = "text")
    {
        var request = new HttpRequestMessage(HttpMethod.Post, "/documents") { Content = JsonContent.Create(new { title, body }) };
        if (key is not null)
        {
            request.Headers.TryAddWithoutValidation("Idempotency-Key", key);
        }

        return request;
    }

    private static async Task<(string Id, bool Replayed)> CreatedAsync(HttpClient client, string? key, string title, string body = "text")
    {
        using var request = Post(key, title, body);
        return await CreatedAsync(await client.SendAsync(request));
    }

    private static async Task<(string Id, bool Replayed)> CreatedAsync(HttpResponseMessage response)
    {
        using var _ = response;
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.Created, $"expected 201, got {(int)response.StatusCode}: {text}");
        var id = JsonDocument.Parse(text).RootElement.GetProperty("id").GetString()!;
        Assert.Equal($"/documents/{id}", response.Headers.Location?.ToString());
        var replayed = response.Headers.TryGetValues("Idempotent-Replayed", out var values) && values.Single() == "true";
        return (id, replayed);
    }

    private async Task<long> ScalarAsync(string sql, string tenant)
    {
        await using var command = host.DataSource.CreateCommand(sql);
        command.Parameters.AddWithValue(tenant);
        return Convert.ToInt64(await command.ExecuteScalarAsync(), System.Globalization.CultureInfo.InvariantCulture);
    }

    private Task<long> DocumentsAsync(string tenant) => ScalarAsync("SELECT count(*) FROM app.documents WHERE tenant_id = $1", tenant);

    private Task<long> QuotaUsedAsync(string tenant) => ScalarAsync(
        "SELECT coalesce(sum(used), 0) FROM scaleops.quota_usage WHERE tenant_id = $1 AND resource = 'documents'", tenant);

    private Task<long> IndexJobsAsync(string tenant) => ScalarAsync(
        "SELECT count(*) FROM scaleops.jobs WHERE kind = 'document.index' AND tenant_id = $1", tenant);

    [Fact]
    public async Task A_retry_with_the_same_key_and_body_returns_the_original_document_and_reserves_the_quota_once()
    {
        var tenant = await host.RegisterTenantAsync("idem-replay");
        using var client = host.Client(tenant);

        var first = await CreatedAsync(client, "order-7f3a", "Invoice", "total 42");
        var retry = await CreatedAsync(client, "order-7f3a", "Invoice", "total 42");

        Assert.False(first.Replayed, "the first request was marked as a replay");
        Assert.Equal(first.Id, retry.Id);
        Assert.True(retry.Replayed, "the retry was not marked Idempotent-Replayed: true");
        Assert.Equal(1, await DocumentsAsync(tenant));
        Assert.Equal(1, await QuotaUsedAsync(tenant));
        Assert.Equal(1, await IndexJobsAsync(tenant));
    }

    [Fact]
    public async Task The_same_key_with_another_body_is_422_and_creates_nothing()
    {
        var tenant = await host.RegisterTenantAsync("idem-mismatch");
        using var client = host.Client(tenant);
        var first = await CreatedAsync(client, "k-1", "Invoice", "total 42");

        using var request = Post("k-1", "Invoice", "total 43");
        var problem = await HttpContractTests.IsStandardProblemAsync(await client.SendAsync(request), HttpStatusCode.UnprocessableEntity, "key reuse");

        Assert.Contains("Idempotency-Key", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
        Assert.Equal(1, await DocumentsAsync(tenant));
        Assert.Equal(1, await QuotaUsedAsync(tenant));
        using var original = await client.GetAsync($"/documents/{first.Id}");
        Assert.Equal("total 42", (await original.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("body").GetString());
    }

    [Fact]
    public async Task Concurrent_requests_with_one_key_create_one_document_and_reserve_once()
    {
        var tenant = await host.RegisterTenantAsync("idem-race");
        using var client = host.Client(tenant);

        var results = await Task.WhenAll(Enumerable.Range(0, 6).Select(_ => Task.Run(() => CreatedAsync(client, "race-key", "Same", "same"))));

        Assert.Single(results.Select(r => r.Id).Distinct());
        Assert.Equal(1, results.Count(r => !r.Replayed));
        Assert.Equal(1, await DocumentsAsync(tenant));
        Assert.Equal(1, await QuotaUsedAsync(tenant));
        Assert.Equal(1, await IndexJobsAsync(tenant));
    }

    [Fact]
    public async Task Another_tenant_with_the_same_key_gets_its_own_document()
    {
        var owner = await host.RegisterTenantAsync("idem-owner");
        var other = await host.RegisterTenantAsync("idem-other");
        using var ownerClient = host.Client(owner);
        using var otherClient = host.Client(other);

        var owners = await CreatedAsync(ownerClient, "shared-key", "Secret", "owner's");
        var others = await CreatedAsync(otherClient, "shared-key", "Secret", "owner's");
        // With another body too: the key is the other tenant's own, not one "used for another request".
        var third = await CreatedAsync(otherClient, "shared-key-2", "x", "y");
        var owners2 = await CreatedAsync(ownerClient, "shared-key-2", "Other", "z");

        Assert.NotEqual(owners.Id, others.Id);
        Assert.False(others.Replayed, "another tenant's request was answered as a replay");
        Assert.False(owners2.Replayed, "another tenant's request was answered as a replay");
        Assert.NotEqual(third.Id, owners2.Id);
        await ProblemAssert.IsProblemAsync(await otherClient.GetAsync($"/documents/{owners.Id}"), HttpStatusCode.NotFound);
        Assert.Equal(2, await DocumentsAsync(owner));
        Assert.Equal(2, await DocumentsAsync(other));
        Assert.Equal(2, await QuotaUsedAsync(other));
    }

    public static TheoryData<string> MalformedKeys => ["two words", "caf\u00e9", "tab\there", "nul\0", new string('k', 256)];

    [Theory]
    [MemberData(nameof(MalformedKeys))]
    public async Task A_malformed_key_is_a_400_naming_the_header_and_creates_nothing(string key)
    {
        var tenant = await host.RegisterTenantAsync($"idem-bad-{Math.Abs(key.GetHashCode()) % 100000}");
        using var client = host.Client(tenant);

        using var request = Post(key, "t");
        var problem = await HttpContractTests.IsStandardProblemAsync(await client.SendAsync(request), HttpStatusCode.BadRequest, "bad key");

        Assert.Contains("Idempotency-Key", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
        Assert.Equal(0, await DocumentsAsync(tenant));
        Assert.Equal(0, await QuotaUsedAsync(tenant));
    }

    [Fact]
    public void An_empty_key_or_the_header_twice_is_refused_too()
    {
        // HttpClient does not send a header with an empty value, nor the header twice: the reader is called directly.
        foreach (var values in new Microsoft.Extensions.Primitives.StringValues[] { "", new[] { "a", "b" } })
        {
            var context = new Microsoft.AspNetCore.Http.DefaultHttpContext();
            context.Request.Headers["Idempotency-Key"] = values;

            Assert.Null(ScaleOps.SampleHost.Documents.IdempotencyKey.Read(context.Request, out var problem));
            Assert.Contains("Idempotency-Key", problem, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task The_longest_key_and_every_visible_ascii_character_are_accepted()
    {
        var tenant = await host.RegisterTenantAsync("idem-long-key");
        using var client = host.Client(tenant);
        var visible = new string(Enumerable.Range(0x21, 0x7E - 0x21 + 1).Select(c => (char)c).ToArray());

        var longest = await CreatedAsync(client, new string('k', 255), "t");
        var symbols = await CreatedAsync(client, visible, "t");

        Assert.Equal(longest.Id, (await CreatedAsync(client, new string('k', 255), "t")).Id);
        Assert.Equal(symbols.Id, (await CreatedAsync(client, visible, "t")).Id);
        Assert.Equal(2, await DocumentsAsync(tenant));
    }

    [Fact]
    public async Task Without_a_key_every_post_creates_a_document()
    {
        var tenant = await host.RegisterTenantAsync("idem-none");
        using var client = host.Client(tenant);

        var first = await CreatedAsync(client, null, "Same", "same");
        var second = await CreatedAsync(client, null, "Same", "same");

        Assert.NotEqual(first.Id, second.Id);
        Assert.False(first.Replayed || second.Replayed, "a request without a key was answered as a replay");
        Assert.Equal(2, await DocumentsAsync(tenant));
        Assert.Equal(2, await QuotaUsedAsync(tenant));
    }

    [Fact]
    public async Task A_retry_is_answered_with_the_quota_full_and_a_create_refused_by_the_quota_leaves_no_key()
    {
        var tenant = await host.RegisterTenantAsync("idem-quota", "free");
        using var client = host.Client(tenant);
        for (var i = 1; i < SampleHostFixture.FreeMaxDocuments; i++)
        {
            await CreatedAsync(await PacedAsync(client, () => Post(null, $"filler {i}")));
        }

        var last = await CreatedAsync(await PacedAsync(client, () => Post("last-one", "last")));

        // The quota is full: the retry needs none (the key is claimed before any reservation), another key is refused.
        var retry = await CreatedAsync(await PacedAsync(client, () => Post("last-one", "last")));
        Assert.Equal(last.Id, retry.Id);
        Assert.True(retry.Replayed);
        await ProblemAssert.IsProblemAsync(await PacedAsync(client, () => Post("one-too-many", "over")), HttpStatusCode.Forbidden);

        // The refused request's key rolled back with it: once there is room, its retry creates.
        using (var deleted = await PacedAsync(client, () => new HttpRequestMessage(HttpMethod.Delete, $"/documents/{last.Id}")))
        {
            Assert.Equal(HttpStatusCode.NoContent, deleted.StatusCode);
        }

        var afterRoom = await CreatedAsync(await PacedAsync(client, () => Post("one-too-many", "over")));
        Assert.False(afterRoom.Replayed);
        Assert.Equal(SampleHostFixture.FreeMaxDocuments, await DocumentsAsync(tenant));
        Assert.Equal(SampleHostFixture.FreeMaxDocuments, await QuotaUsedAsync(tenant));
    }

    /// <summary>
    /// The free plan's rate is small in the tests (5 a second): a 429 is sent again after its Retry-After (at most 2 s,
    /// at most 20 times), so the quota is what answers.
    /// </summary>
    private static async Task<HttpResponseMessage> PacedAsync(HttpClient client, Func<HttpRequestMessage> request)
    {
        for (var attempt = 0; ; attempt++)
        {
            using var message = request();
            var response = await client.SendAsync(message);
            if (response.StatusCode != HttpStatusCode.TooManyRequests || attempt >= 20)
            {
                return response;
            }

            var retryAfter = int.Parse(response.Headers.GetValues("Retry-After").Single(), System.Globalization.CultureInfo.InvariantCulture);
            response.Dispose();
            await Task.Delay(TimeSpan.FromSeconds(Math.Min(retryAfter, 2)));
        }
    }

    [Fact]
    public async Task A_retry_after_the_document_was_deleted_is_409_and_does_not_create_it_again()
    {
        var tenant = await host.RegisterTenantAsync("idem-deleted");
        using var client = host.Client(tenant);
        var first = await CreatedAsync(client, "delete-me", "t");
        Assert.Equal(HttpStatusCode.NoContent, (await client.DeleteAsync($"/documents/{first.Id}")).StatusCode);

        using var request = Post("delete-me", "t");
        var problem = await HttpContractTests.IsStandardProblemAsync(await client.SendAsync(request), HttpStatusCode.Conflict, "deleted");

        Assert.Contains(first.Id, problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
        Assert.Equal(0, await DocumentsAsync(tenant));
        Assert.Equal(0, await QuotaUsedAsync(tenant));
    }

    [Fact]
    public async Task A_replay_drops_the_cached_lists_in_case_the_original_instance_stopped_before_it_did()
    {
        var tenant = await host.RegisterTenantAsync("idem-cache");
        using var client = host.Client(tenant);
        await CreatedAsync(client, "seen-key", "Seen", "same body");
        // Its index job drops the tenant's cached reads when it is done: wait for it, so the list read below stays cached.
        await host.UntilIndexJobsSucceededAsync(tenant, 1);
        Assert.Equal(1, (await client.GetFromJsonAsync<JsonElement>("/documents")).GetProperty("items").GetArrayLength());

        // What an instance that stopped between its commit and its cache invalidation leaves: the document and its key
        // committed (same request, so the hash of "seen-key"'s), the tenant's cached list without the document.
        var lost = Guid.CreateVersion7();
        await using (var batch = host.DataSource.CreateBatch())
        {
            batch.BatchCommands.Add(new Npgsql.NpgsqlBatchCommand(
                "INSERT INTO app.documents (tenant_id, id, title, body, created_at, updated_at) VALUES ($1, $2, 'Seen', 'same body', now(), now())")
            {
                Parameters = { new() { Value = tenant }, new() { Value = lost } },
            });
            batch.BatchCommands.Add(new Npgsql.NpgsqlBatchCommand(
                """
                INSERT INTO app.idempotency_keys (tenant_id, key, request_hash, document_id, created_at)
                SELECT tenant_id, 'lost-reply', request_hash, $2, created_at FROM app.idempotency_keys WHERE tenant_id = $1 AND key = 'seen-key'
                """)
            {
                Parameters = { new() { Value = tenant }, new() { Value = lost } },
            });
            await batch.ExecuteNonQueryAsync();
        }

        using (var stale = await client.GetAsync("/documents"))
        {
            Assert.Equal("hit", stale.Headers.GetValues("X-Cache").Single());
            Assert.Equal(1, (await stale.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("items").GetArrayLength());
        }

        var retry = await CreatedAsync(client, "lost-reply", "Seen", "same body");

        Assert.Equal(lost.ToString(), retry.Id);
        Assert.True(retry.Replayed);
        var list = await client.GetFromJsonAsync<JsonElement>("/documents");
        Assert.Contains(lost.ToString(), list.GetProperty("items").EnumerateArray().Select(d => d.GetProperty("id").GetString()));
    }
}
