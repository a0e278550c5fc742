using System;
using System.Linq;
using System.Net;
using System.Net.Http;
using System.Net.Http.Json;
using System.Text.Json;
using System.Threading;
using System.Threading.Tasks;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;
using ScaleOps.Caching;
using ScaleOps.Partitioning.Audit;

namespace ScaleOps.SampleHost.Tests;

/// <summary>
/// The sample host where a request carrying <c>X-Test-Disconnect: 1</c> is aborted (the client went away) at the moment
/// the endpoint drops the tenant's cached reads, that is right after its transaction committed.
/// </summary>
public sealed class DisconnectingHostFixture : SampleHostFixture
{
    public const string DisconnectHeader = "X-Test-Disconnect";

    protected override void ConfigureInstance(IWebHostBuilder web)
    {
        web.ConfigureTestServices(services =>
        {
            services.AddHttpContextAccessor();
            var original = services.Last(d => d.ServiceType == typeof(ITenantCache));
            services.Remove(original);
            services.AddSingleton<ITenantCache>(sp => new DisconnectingCache(
                (ITenantCache)original.ImplementationFactory!(sp), sp.GetRequiredService<IHttpContextAccessor>()));
        });
    }

    private sealed class DisconnectingCache(ITenantCache inner, IHttpContextAccessor accessor) : ITenantCache
    {
        public ValueTask<CacheResult<T>> GetOrSetEntryAsync<TState, T>(string key, TState state, Func<TState, CancellationToken, ValueTask<T>> factory,
            CacheEntryOptions? options = null, CancellationToken cancellationToken = default) =>
            inner.GetOrSetEntryAsync(key, state, factory, options, cancellationToken);

        public ValueTask<CacheResult<T>> TryGetAsync<T>(string key, CancellationToken cancellationToken = default) => inner.TryGetAsync<T>(key, cancellationToken);

        public ValueTask SetAsync<T>(string key, T value, CacheEntryOptions? options = null, CancellationToken cancellationToken = default) =>
            inner.SetAsync(key, value, options, cancellationToken);

        public ValueTask RemoveAsync(string key, CancellationToken cancellationToken = default) => inner.RemoveAsync(key, cancellationToken);

        public ValueTask RemoveByTagAsync(string tag, CancellationToken cancellationToken = default)
        {
            if (accessor.HttpContext is { } http && http.Request.Headers[DisconnectHeader] == "1")
            {
                http.Abort();
            }

            return inner.RemoveByTagAsync(tag, cancellationToken);
        }

        public ValueTask InvalidateTenantAsync(CancellationToken cancellationToken = default) => inner.InvalidateTenantAsync(cancellationToken);

        public CacheStatus GetStatus() => inner.GetStatus();
    }
}

/// <summary>What follows a committed write (cache invalidation, audit event) happens even if the client went away.</summary>
public sealed class AfterCommitTests(DisconnectingHostFixture host) : IClassFixture<DisconnectingHostFixture>
{
    private static async Task<string> CreateAsync(HttpClient client, string title)
    {
        using var response = await client.PostAsJsonAsync("/documents", new { title, body = "b" });
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        return (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetString()!;
    }

    private async Task<string[]> AuditActionsAsync(HttpClient client)
    {
        await host.Factory.Services.GetRequiredService<IAuditLog>().FlushAsync();
        var from = Uri.EscapeDataString(DateTimeOffset.UtcNow.AddDays(-1).ToString("O"));
        var to = Uri.EscapeDataString(DateTimeOffset.UtcNow.AddDays(1).ToString("O"));
        var body = await client.GetFromJsonAsync<JsonElement>($"/audit?from={from}&to={to}");
        return [.. body.GetProperty("items").EnumerateArray().Select(i => i.GetProperty("action").GetString()!)];
    }

    private static async Task SendAndGoAwayAsync(HttpClient client, HttpRequestMessage request)
    {
        request.Headers.Add(DisconnectingHostFixture.DisconnectHeader, "1");
        await Assert.ThrowsAnyAsync<Exception>(() => client.SendAsync(request));
    }

    [Fact]
    public async Task A_delete_whose_client_went_away_after_the_commit_is_not_served_from_the_cache_and_is_audited()
    {
        var tenant = await host.RegisterTenantAsync("gone-delete");
        using var client = host.Client(tenant);
        var id = await CreateAsync(client, "to be deleted");
        await host.UntilIndexJobsSucceededAsync(tenant, 1);
        using (await client.GetAsync($"/documents/{id}"))
        using (var warm = await client.GetAsync($"/documents/{id}"))
        {
            Assert.Equal("hit", Assert.Single(warm.Headers.GetValues("X-Cache")));
        }

        using (var delete = new HttpRequestMessage(HttpMethod.Delete, $"/documents/{id}"))
        {
            await SendAndGoAwayAsync(client, delete);
        }

        await using (var command = host.DataSource.CreateCommand("SELECT count(*) FROM app.documents WHERE id = $1"))
        {
            command.Parameters.AddWithValue(Guid.Parse(id));
            Assert.Equal(0L, await command.ExecuteScalarAsync());
        }

        // The endpoint goes on after the abort; its audit event is written once it has run.
        using var after = await client.GetAsync($"/documents/{id}");
        await ProblemAssert.IsProblemAsync(after, HttpStatusCode.NotFound);
        await ScaleOps.TestInfrastructure.TestSignal.UntilAsync(
            async () => (await AuditActionsAsync(client)).Contains("document.deleted"), "the deletion's audit event");
    }

    [Fact]
    public async Task An_update_whose_client_went_away_after_the_commit_is_audited_and_a_reindex_is_audited_too()
    {
        var tenant = await host.RegisterTenantAsync("gone-update");
        using var client = host.Client(tenant);
        var id = await CreateAsync(client, "v1");
        await host.UntilIndexJobsSucceededAsync(tenant, 1);
        using (var update = new HttpRequestMessage(HttpMethod.Put, $"/documents/{id}") { Content = JsonContent.Create(new { title = "v2", body = "b" }) })
        {
            await SendAndGoAwayAsync(client, update);
        }

        await ScaleOps.TestInfrastructure.TestSignal.UntilAsync(
            async () => (await AuditActionsAsync(client)).Contains("document.updated"), "the update's audit event");

        using var reindex = await client.PostAsync("/documents/reindex", null);
        Assert.Equal(HttpStatusCode.Accepted, reindex.StatusCode);
        Assert.Contains("documents.reindexed", await AuditActionsAsync(client));
    }
}
