using System.Globalization;
using System.Linq;
using System.Net;
using System.Net.Http;
using System.Threading.Tasks;
using Microsoft.AspNetCore.Hosting;

namespace ScaleOps.SampleHost.Tests;

/// <summary>The sample host with small budgets of failures per client address, so tests reach them in a few requests.</summary>
public sealed class FailureLimitSampleHostFixture : SampleHostFixture
{
    /// <summary>Wrong admin keys an address may send per minute.</summary>
    public const int AdminKeyFailures = 3;

    /// <summary>Unregistered tenant ids an address may send per minute.</summary>
    public const int UnknownTenants = 3;

    protected override void ConfigureInstance(IWebHostBuilder web)
    {
        web.UseSetting("Sample:AdminKeyFailuresPerMinute", AdminKeyFailures.ToString(CultureInfo.InvariantCulture));
        web.UseSetting("Sample:UnknownTenantsPerMinute", UnknownTenants.ToString(CultureInfo.InvariantCulture));
    }
}

/// <summary>Guessing the admin key: a few wrong keys per client address and minute, then 429 until the minute is over.</summary>
public class AdminKeyLimitTests(FailureLimitSampleHostFixture host) : IClassFixture<FailureLimitSampleHostFixture>
{
    private const int Budget = FailureLimitSampleHostFixture.AdminKeyFailures;

    private HttpClient WrongKey(string address)
    {
        var client = host.Client(address: address);
        client.DefaultRequestHeaders.Add("X-Admin-Key", "wrong-key-wrong-key-wrong");
        return client;
    }

    private static async Task AssertBlockedAsync(HttpResponseMessage response)
    {
        using (response)
        {
            var problem = await ProblemAssert.IsProblemAsync(response, HttpStatusCode.TooManyRequests);
            Assert.Contains("X-Admin-Key", problem.GetProperty("detail").GetString(), System.StringComparison.Ordinal);
            // The block lasts until the address's one-minute window ends: Retry-After says when, in whole seconds.
            var retryAfter = int.Parse(Assert.Single(response.Headers.GetValues("Retry-After")), CultureInfo.InvariantCulture);
            Assert.InRange(retryAfter, 1, 60);
        }
    }

    [Fact]
    public async Task After_the_budget_of_wrong_keys_the_address_gets_429_even_with_the_right_key_and_other_addresses_do_not()
    {
        const string Address = "203.0.113.10";
        using var right = host.Client(admin: true, address: Address);
        using var wrong = WrongKey(Address);

        // The right key works before the limit, as often as needed: only wrong keys use up the budget.
        for (var i = 0; i < Budget + 2; i++)
        {
            using var ok = await right.GetAsync("/ops/circuits");
            Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
        }

        for (var i = 0; i < Budget; i++)
        {
            using var refused = await wrong.GetAsync("/ops/circuits");
            await ProblemAssert.IsProblemAsync(refused, HttpStatusCode.Unauthorized);
        }

        // Blocked: the right key too, on every admin endpoint, and a wrong key is not even compared any more.
        await AssertBlockedAsync(await right.GetAsync("/ops/circuits"));
        await AssertBlockedAsync(await right.PutAsync("/tenants/no-such-tenant/plan", new StringContent("{\"plan\":\"pro\"}", System.Text.Encoding.UTF8, "application/json")));
        await AssertBlockedAsync(await wrong.GetAsync("/ops/jobs"));
        using (var noKey = host.Client(address: Address))
        {
            await AssertBlockedAsync(await noKey.GetAsync("/ops/migrations"));
        }

        // Another address has its own budget: its right key works and its wrong key is a plain 401.
        using var otherRight = host.Client(admin: true, address: "203.0.113.11");
        using (var ok = await otherRight.GetAsync("/ops/circuits"))
        {
            Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
        }

        using var otherWrong = WrongKey("203.0.113.11");
        await ProblemAssert.IsProblemAsync(await otherWrong.GetAsync("/ops/circuits"), HttpStatusCode.Unauthorized);
    }

    [Fact]
    public async Task Wrong_keys_sent_all_at_once_get_no_more_answers_than_the_budget()
    {
        using var wrong = WrongKey("203.0.113.20");
        var responses = await Task.WhenAll(Enumerable.Range(0, 20).Select(_ => wrong.GetAsync("/ops/circuits")));
        try
        {
            // Each attempt holds its part of the budget while its key is compared, so a burst cannot overtake the count.
            Assert.Equal(Budget, responses.Count(r => r.StatusCode == HttpStatusCode.Unauthorized));
            Assert.Equal(20 - Budget, responses.Count(r => r.StatusCode == HttpStatusCode.TooManyRequests));
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
    public async Task Wrong_keys_on_the_health_endpoint_count_too_and_probes_without_a_key_are_not_blocked()
    {
        const string Address = "203.0.113.30";
        using var wrong = WrongKey(Address);

        // /ops/health shows the checks' descriptions to the right key: it would answer guesses too.
        for (var i = 0; i < Budget; i++)
        {
            using var statusOnly = await wrong.GetAsync("/ops/health");
            Assert.Equal(HttpStatusCode.OK, statusOnly.StatusCode);
            Assert.DoesNotContain("description", await statusOnly.Content.ReadAsStringAsync(), System.StringComparison.Ordinal);
        }

        using var right = host.Client(admin: true, address: Address);
        await AssertBlockedAsync(await right.GetAsync("/ops/health"));
        await AssertBlockedAsync(await right.GetAsync("/ops/circuits"));

        using var probe = host.Client(address: Address);
        using var health = await probe.GetAsync("/ops/health");
        Assert.Equal(HttpStatusCode.OK, health.StatusCode);
    }

    [Fact]
    public async Task Ipv6_addresses_of_one_64_bit_prefix_share_a_budget_and_another_prefix_has_its_own()
    {
        // One machine has a whole /64 to pick addresses from: counting each address alone would let it guess without end.
        for (var i = 0; i < Budget; i++)
        {
            using var wrong = WrongKey($"2001:db8:1:2::{i + 1:x}");
            await ProblemAssert.IsProblemAsync(await wrong.GetAsync("/ops/circuits"), HttpStatusCode.Unauthorized);
        }

        using var sameNetwork = host.Client(admin: true, address: "2001:db8:1:2:ffff:ffff:ffff:ffff");
        await AssertBlockedAsync(await sameNetwork.GetAsync("/ops/circuits"));

        using var otherNetwork = host.Client(admin: true, address: "2001:db8:1:3::1");
        using var ok = await otherNetwork.GetAsync("/ops/circuits");
        Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
    }
}
