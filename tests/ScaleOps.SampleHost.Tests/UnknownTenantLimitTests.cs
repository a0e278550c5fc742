using System;
using System.Globalization;
using System.Linq;
using System.Net;
using System.Net.Http;
using System.Threading.Tasks;
using ScaleOps.TestInfrastructure;

namespace ScaleOps.SampleHost.Tests;

/// <summary>
/// Unregistered tenant ids: each costs a registry lookup before the 403, so a client address may send only a few per
/// minute; past that it gets 429 before any lookup, until its minute is over.
/// </summary>
public class UnknownTenantLimitTests(FailureLimitSampleHostFixture host) : IClassFixture<FailureLimitSampleHostFixture>
{
    private const int Budget = FailureLimitSampleHostFixture.UnknownTenants;

    private HttpClient Client(string tenant, string address) => host.Client(tenant, address: address);

    private static string Ghost() => $"ghost-{Guid.NewGuid():N}";

    private static async Task AssertBlockedAsync(HttpResponseMessage response)
    {
        using (response)
        {
            var problem = await ProblemAssert.IsProblemAsync(response, HttpStatusCode.TooManyRequests);
            Assert.Contains("X-Tenant-Id", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
            var retryAfter = int.Parse(Assert.Single(response.Headers.GetValues("Retry-After")), CultureInfo.InvariantCulture);
            Assert.InRange(retryAfter, 1, 60);
        }
    }

    /// <summary>How many times this test database has run the registry's lookup (pg_stat_statements, server-wide).</summary>
    private async Task<long> LookupsAsync()
    {
        await using var admin = await PostgresServer.OpenAdminAsync();
        await using var command = new Npgsql.NpgsqlCommand(
            "SELECT coalesce(sum(calls), 0)::bigint FROM pg_stat_statements "
            + "WHERE dbid = (SELECT oid FROM pg_database WHERE datname = $1) AND query = 'SELECT id, plan FROM app.tenants WHERE id = $1'",
            admin);
        command.Parameters.AddWithValue(host.Name);
        return (long)(await command.ExecuteScalarAsync())!;
    }

    [Fact]
    public async Task After_the_budget_of_unknown_tenants_the_address_gets_429_even_for_a_registered_tenant_and_other_addresses_do_not()
    {
        const string Address = "198.51.100.10";
        var known = await host.RegisterTenantAsync("limit-known");
        using var knownClient = Client(known, Address);

        // Registered tenants do not use up the budget.
        for (var i = 0; i < Budget + 2; i++)
        {
            using var ok = await knownClient.GetAsync("/documents?limit=1");
            Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
        }

        for (var i = 0; i < Budget; i++)
        {
            using var ghost = Client(Ghost(), Address);
            await ProblemAssert.IsProblemAsync(await ghost.GetAsync("/documents"), HttpStatusCode.Forbidden);
        }

        // Spent: every tenant endpoint answers 429, for any tenant, before looking it up.
        await AssertBlockedAsync(await knownClient.GetAsync("/documents?limit=1"));
        await AssertBlockedAsync(await knownClient.GetAsync($"/audit?from={Uri.EscapeDataString(DateTimeOffset.UtcNow.AddHours(-1).ToString("O", CultureInfo.InvariantCulture))}"
            + $"&to={Uri.EscapeDataString(DateTimeOffset.UtcNow.ToString("O", CultureInfo.InvariantCulture))}"));
        using (var ghost = Client(Ghost(), Address))
        {
            await AssertBlockedAsync(await ghost.PostAsync("/documents", new StringContent("{\"title\":\"t\",\"body\":\"b\"}", System.Text.Encoding.UTF8, "application/json")));
        }

        // Malformed ids cost nothing to refuse: still a 400.
        using (var malformed = Client("NOT A SLUG", Address))
        {
            await ProblemAssert.IsProblemAsync(await malformed.GetAsync("/documents"), HttpStatusCode.BadRequest);
        }

        // Another address has its own budget.
        using var other = Client(known, "198.51.100.11");
        using (var ok = await other.GetAsync("/documents?limit=1"))
        {
            Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
        }

        using var otherGhost = Client(Ghost(), "198.51.100.11");
        await ProblemAssert.IsProblemAsync(await otherGhost.GetAsync("/documents"), HttpStatusCode.Forbidden);
    }

    [Fact]
    public async Task A_burst_of_random_tenant_ids_costs_no_more_lookups_than_the_budget()
    {
        var before = await LookupsAsync();
        var responses = await Task.WhenAll(Enumerable.Range(0, 20).Select(async _ =>
        {
            using var client = Client(Ghost(), "198.51.100.20");
            return await client.GetAsync("/documents");
        }));
        try
        {
            Assert.Equal(Budget, responses.Count(r => r.StatusCode == HttpStatusCode.Forbidden));
            Assert.Equal(20 - Budget, responses.Count(r => r.StatusCode == HttpStatusCode.TooManyRequests));
            Assert.Equal(Budget, await LookupsAsync() - before);
        }
        finally
        {
            foreach (var response in responses)
            {
                response.Dispose();
            }
        }
    }

    [Fact]
    public async Task The_admin_tenant_endpoint_is_limited_the_same_way()
    {
        const string Address = "198.51.100.30";
        var from = Uri.EscapeDataString(DateTimeOffset.UtcNow.AddHours(-1).ToString("O", CultureInfo.InvariantCulture));
        var to = Uri.EscapeDataString(DateTimeOffset.UtcNow.ToString("O", CultureInfo.InvariantCulture));
        for (var i = 0; i < Budget; i++)
        {
            using var ghost = host.Client(Ghost(), admin: true, address: Address);
            await ProblemAssert.IsProblemAsync(await ghost.GetAsync($"/ops/audit/partitions?from={from}&to={to}"), HttpStatusCode.Forbidden);
        }

        using var next = host.Client(Ghost(), admin: true, address: Address);
        await AssertBlockedAsync(await next.GetAsync($"/ops/audit/partitions?from={from}&to={to}"));
    }
}
