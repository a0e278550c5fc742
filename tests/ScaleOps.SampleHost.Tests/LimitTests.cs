using System;
using System.Globalization;
using System.Linq;
using System.Net;
using System.Net.Http;
using System.Net.Http.Json;
using System.Text.Json;
using System.Threading.Tasks;

namespace ScaleOps.SampleHost.Tests;

public class LimitTests(SampleHostFixture host) : IClassFixture<SampleHostFixture>
{
    [Fact]
    public async Task Over_the_plans_rate_the_answer_is_429_with_retry_after_and_every_answer_carries_the_budget()
    {
        using var client = host.Client(await host.RegisterTenantAsync("rate-free", "free"));
        var responses = await Task.WhenAll(Enumerable.Range(0, 40).Select(_ => client.GetAsync("/documents?limit=1")));
        try
        {
            var limited = responses.Where(r => r.StatusCode == HttpStatusCode.TooManyRequests).ToList();
            var passed = responses.Where(r => r.StatusCode == HttpStatusCode.OK).ToList();
            Assert.NotEmpty(limited);
            Assert.NotEmpty(passed);
            Assert.Equal(40, limited.Count + passed.Count);

            // The free plan: FreeRequestsPerSecond per 1 s window, as one token bucket of that size.
            var limit = SampleHostFixture.FreeRequestsPerSecond.ToString(CultureInfo.InvariantCulture);
            var policy = $"{limit};w=1";
            // One token comes back every window / limit; Retry-After is that, in whole seconds rounded up (at least 1).
            var retryAfter = Math.Max(1, (int)Math.Ceiling(1.0 / SampleHostFixture.FreeRequestsPerSecond)).ToString(CultureInfo.InvariantCulture);
            // The bucket is full again within one window: RateLimit-Reset is at most 1 s, rounded up.
            const string Reset = "1";

            foreach (var rejection in limited)
            {
                await ProblemAssert.IsProblemAsync(rejection, HttpStatusCode.TooManyRequests);
                Assert.Equal(retryAfter, Header(rejection, "Retry-After"));
                Assert.Equal(limit, Header(rejection, "RateLimit-Limit"));
                Assert.Equal("0", Header(rejection, "RateLimit-Remaining"));
                Assert.Equal(Reset, Header(rejection, "RateLimit-Reset"));
                Assert.Equal(policy, Header(rejection, "RateLimit-Policy"));
            }

            foreach (var admitted in passed)
            {
                Assert.False(admitted.Headers.Contains("Retry-After"));
                Assert.Equal(limit, Header(admitted, "RateLimit-Limit"));
                Assert.InRange(int.Parse(Header(admitted, "RateLimit-Remaining"), CultureInfo.InvariantCulture), 0, SampleHostFixture.FreeRequestsPerSecond - 1);
                Assert.Equal(Reset, Header(admitted, "RateLimit-Reset"));
                Assert.Equal(policy, Header(admitted, "RateLimit-Policy"));
            }
        }
        finally
        {
            foreach (var r in responses)
            {
                r.Dispose();
            }
        }
    }

    private static string Header(HttpResponseMessage response, string name) =>
        response.Headers.TryGetValues(name, out var values) ? Assert.Single(values) : throw new Xunit.Sdk.XunitException($"{(int)response.StatusCode}: no {name} header");

    [Fact]
    public async Task Over_the_document_quota_the_answer_is_403_with_limit_and_usage_and_delete_gives_it_back()
    {
        using var client = host.Client(await host.RegisterTenantAsync("quota-free", "free"));
        string? firstId = null;
        for (var i = 0; i < SampleHostFixture.FreeMaxDocuments; i++)
        {
            using var ok = await SendPacedAsync(() => client.PostAsJsonAsync("/documents", new { title = $"d{i}", body = "b" }));
            Assert.Equal(HttpStatusCode.Created, ok.StatusCode);
            firstId ??= (await ok.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetString();
        }

        using (var refused = await SendPacedAsync(() => client.PostAsJsonAsync("/documents", new { title = "one too many", body = "b" })))
        {
            var problem = await ProblemAssert.IsProblemAsync(refused, HttpStatusCode.Forbidden);
            Assert.Equal(SampleHostFixture.FreeMaxDocuments, problem.GetProperty("limit").GetInt32());
            Assert.Equal(SampleHostFixture.FreeMaxDocuments, problem.GetProperty("usage").GetInt32());
        }

        var list = await SendPacedAsync(() => client.GetAsync("/documents?limit=100"));
        Assert.Equal(SampleHostFixture.FreeMaxDocuments, (await list.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("items").GetArrayLength());

        using (var deleted = await SendPacedAsync(() => client.DeleteAsync($"/documents/{firstId}")))
        {
            Assert.Equal(HttpStatusCode.NoContent, deleted.StatusCode);
        }

        using var again = await SendPacedAsync(() => client.PostAsJsonAsync("/documents", new { title = "fits again", body = "b" }));
        Assert.Equal(HttpStatusCode.Created, again.StatusCode);
    }

    // The free plan's rate limit is small in the tests: wait out a 429 (bounded) so the quota test sees the quota.
    private static async Task<HttpResponseMessage> SendPacedAsync(Func<Task<HttpResponseMessage>> send)
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
}
