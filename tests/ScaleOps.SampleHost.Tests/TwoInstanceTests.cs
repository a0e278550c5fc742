using System;
using System.Diagnostics;
using System.Globalization;
using System.Linq;
using System.Net;
using System.Net.Http;
using System.Net.Http.Json;
using System.Text.Json;
using System.Threading.Tasks;
using Microsoft.AspNetCore.Hosting;
using ScaleOps.TestInfrastructure;

namespace ScaleOps.SampleHost.Tests;

public class TwoInstanceTests(SampleHostFixture host) : IClassFixture<SampleHostFixture>
{
    [Fact]
    public async Task A_write_on_one_instance_invalidates_the_others_cached_copy()
    {
        var second = host.StartAnotherInstance();
        try
        {
            await WriteOnOneInvalidatesTheOtherAsync(second);
        }
        finally
        {
            await SampleHostFixture.DisposeHostAsync(second);
        }
    }

    [Fact]
    public async Task Two_instances_share_one_rate_limit_through_redis()
    {
        var second = host.StartAnotherInstance();
        try
        {
            var tenant = await host.RegisterTenantAsync("shared-rate", "free");
            using var a = host.Client(tenant);
            using var b = second.CreateClient();
            b.DefaultRequestHeaders.Add("X-Tenant-Id", tenant);

            // Each instance has resolved the tenant's plan and is warm before the burst, so the burst is short.
            using (var warmA = await a.GetAsync("/documents?limit=1"))
            using (var warmB = await b.GetAsync("/documents?limit=1"))
            {
                Assert.Equal(HttpStatusCode.OK, warmA.StatusCode);
                Assert.Equal(HttpStatusCode.OK, warmB.StatusCode);
            }

            // Twice the plan's rate on each instance at once: each instance alone would admit a whole bucket of its own.
            const int PerInstance = 2 * SampleHostFixture.FreeRequestsPerSecond;
            var clock = Stopwatch.StartNew();
            var sent = await Task.WhenAll(Enumerable.Range(0, 2 * PerInstance).Select(async i =>
            {
                var onA = i % 2 == 0;
                return (OnA: onA, Response: await (onA ? a : b).GetAsync("/documents?limit=1"));
            }));
            clock.Stop();
            try
            {
                var admitted = sent.Count(s => s.Response.StatusCode == HttpStatusCode.OK);
                var limited = sent.Where(s => s.Response.StatusCode == HttpStatusCode.TooManyRequests).ToList();
                Assert.Equal(2 * PerInstance, admitted + limited.Count);

                // One token bucket in Redis for the tenant: FreeRequestsPerSecond tokens, refilled at that rate. Over both
                // instances together at most the bucket plus what refilled while the requests ran (Redis's clock runs
                // within the client's span). Two separate buckets admit a bucket each: a short burst then exceeds the bound
                // (checked by giving the second instance its own key prefix: 10 admitted in 250 ms against a bound of 7).
                var refill = (int)Math.Ceiling(SampleHostFixture.FreeRequestsPerSecond * clock.Elapsed.TotalSeconds);
                Assert.True(admitted >= 1 && admitted <= SampleHostFixture.FreeRequestsPerSecond + refill,
                    $"{admitted} of {2 * PerInstance} requests admitted over both instances in {clock.Elapsed.TotalMilliseconds:0} ms; "
                    + $"one shared bucket admits at most {SampleHostFixture.FreeRequestsPerSecond} + {refill} refilled");
                Assert.NotEmpty(limited);
                foreach (var (_, response) in limited)
                {
                    await ProblemAssert.IsProblemAsync(response, HttpStatusCode.TooManyRequests);
                    Assert.True(int.Parse(response.Headers.GetValues("Retry-After").Single(), CultureInfo.InvariantCulture) >= 1);
                }
            }
            finally
            {
                foreach (var (_, response) in sent)
                {
                    response.Dispose();
                }
            }
        }
        finally
        {
            await SampleHostFixture.DisposeHostAsync(second);
        }
    }

    [Fact]
    public async Task A_plan_change_on_one_instance_is_in_effect_on_the_other_within_ten_seconds()
    {
        // The second instance trusts its tenant cache for the default 5 s (the fixture's own instance: 0 s), so this is
        // the slowest path the HTTP contract allows: registry cache plus the limiter's plan cache, within 10 s.
        var second = host.StartAnotherInstance(web => web.UseSetting("Sample:TenantCacheSeconds", "5"));
        try
        {
            var tenant = await host.RegisterTenantAsync("plan-change", "free");
            using var admin = host.Client(admin: true);
            using var b = second.CreateClient();
            b.DefaultRequestHeaders.Add("X-Tenant-Id", tenant);
            var free = SampleHostFixture.FreeRequestsPerSecond.ToString(CultureInfo.InvariantCulture);
            using (var before = await b.GetAsync("/documents?limit=1"))
            {
                Assert.Equal(HttpStatusCode.OK, before.StatusCode);
                Assert.Equal(free, before.Headers.GetValues("RateLimit-Limit").Single());
            }

            using (var changed = await admin.PutAsJsonAsync($"/tenants/{tenant}/plan", new { plan = "pro" }))
            {
                Assert.Equal(HttpStatusCode.OK, changed.StatusCode);
            }

            // The contract: a request sent 10 s or more after the change sees it. Judged by when each stale answer's
            // request was sent (the server can only handle a request after that), so a slow machine cannot fail it.
            var changedAt = Stopwatch.GetTimestamp();
            var lastStaleSentAfter = TimeSpan.Zero;
            await TestSignal.UntilAsync(async () =>
            {
                var sentAfter = Stopwatch.GetElapsedTime(changedAt);
                using var response = await b.GetAsync("/documents?limit=1");
                if (response.Headers.TryGetValues("RateLimit-Limit", out var limit) && limit.Single() == "100")
                {
                    return true;
                }

                lastStaleSentAfter = sentAfter;
                return false;
            }, "instance two to apply the pro plan (100 requests/s) set on instance one");
            Assert.True(lastStaleSentAfter < TimeSpan.FromSeconds(10), $"a request sent {lastStaleSentAfter} after the change still saw the old plan");

            // The new limit applies: three times the free plan's rate at once, all admitted.
            var burst = await Task.WhenAll(Enumerable.Range(0, 3 * SampleHostFixture.FreeRequestsPerSecond).Select(_ => b.GetAsync("/documents?limit=1")));
            try
            {
                Assert.All(burst, r => Assert.Equal(HttpStatusCode.OK, r.StatusCode));
                Assert.All(burst, r => Assert.Equal("100", r.Headers.GetValues("RateLimit-Limit").Single()));
            }
            finally
            {
                foreach (var response in burst)
                {
                    response.Dispose();
                }
            }
        }
        finally
        {
            await SampleHostFixture.DisposeHostAsync(second);
        }
    }

    private async Task WriteOnOneInvalidatesTheOtherAsync(Microsoft.AspNetCore.Mvc.Testing.WebApplicationFactory<Program> second)
    {
        var tenant = await host.RegisterTenantAsync("two-instances");
        using var a = host.Client(tenant);
        using var b = second.CreateClient();
        b.DefaultRequestHeaders.Add("X-Tenant-Id", tenant);

        using var created = await a.PostAsJsonAsync("/documents", new { title = "v1", body = "b" });
        var id = (await created.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetString();
        await TestSignal.UntilAsync(async () =>
            (await a.GetFromJsonAsync<JsonElement>($"/documents/{id}")).GetProperty("indexedAt").ValueKind == JsonValueKind.String,
            "the index job to run (it invalidates once more)");
        await host.UntilIndexJobsSucceededAsync(tenant, 1); // so that invalidation is over before the reads below

        // Both instances now hold the document in memory.
        using (await a.GetAsync($"/documents/{id}"))
        using (var cachedOnB = await b.GetAsync($"/documents/{id}"))
        using (var cachedOnA = await a.GetAsync($"/documents/{id}"))
        {
            Assert.Equal("hit", cachedOnA.Headers.GetValues("X-Cache").Single());
            Assert.Equal(HttpStatusCode.OK, cachedOnB.StatusCode);
        }

        using (var put = await b.PutAsJsonAsync($"/documents/{id}", new { title = "v2", body = "b" }))
        {
            Assert.Equal(HttpStatusCode.OK, put.StatusCode);
        }

        // The backplane carries B's invalidation to A's memory: A never keeps serving v1.
        await TestSignal.UntilAsync(async () =>
            (await a.GetFromJsonAsync<JsonElement>($"/documents/{id}")).GetProperty("title").GetString() == "v2",
            "instance A to drop its cached v1 after instance B's write");
    }
}
