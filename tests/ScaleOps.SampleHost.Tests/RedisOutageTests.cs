using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using System.Threading.Tasks;
using ScaleOps.TestInfrastructure;

namespace ScaleOps.SampleHost.Tests;

/// <summary>The sample host on a private redis-server that this class stops and restarts (never the shared one).</summary>
public sealed class PrivateRedisSampleHostFixture : SampleHostFixture
{
    protected override bool UsePrivateRedis => true;
}

public class RedisOutageTests(PrivateRedisSampleHostFixture host) : IClassFixture<PrivateRedisSampleHostFixture>
{
    private async Task<(HttpStatusCode Status, string Overall, string Redis)> HealthAsync()
    {
        using var client = host.Client();
        using var response = await client.GetAsync("/ops/health");
        var body = await response.Content.ReadFromJsonAsync<JsonElement>();
        return (response.StatusCode, body.GetProperty("status").GetString()!, body.GetProperty("checks").GetProperty("redis").GetProperty("status").GetString()!);
    }

    [Fact]
    public async Task With_redis_down_the_api_keeps_answering_and_health_is_degraded_not_unhealthy()
    {
        using var client = host.Client(await host.RegisterTenantAsync("outage-tenant"));
        using (var before = await client.PostAsJsonAsync("/documents", new { title = "before", body = "b" }))
        {
            Assert.Equal(HttpStatusCode.Created, before.StatusCode);
        }

        // A command slower than the client's short timeout on a loaded machine opens the breaker for a few seconds:
        // wait for the healthy state rather than assume it.
        await TestSignal.UntilAsync(async () => (await HealthAsync()).Redis == "Healthy", "Redis to be healthy before the outage");

        await host.Redis!.StopAsync();
        await TestSignal.UntilAsync(async () =>
        {
            using var during = await client.GetAsync("/documents?limit=5");
            Assert.Equal(HttpStatusCode.OK, during.StatusCode); // the cache falls back to memory, the limiter to local
            return (await HealthAsync()).Redis == "Degraded";
        }, "the cache to report Redis down");

        var health = await HealthAsync();
        Assert.Equal(HttpStatusCode.OK, health.Status);
        Assert.Equal("Degraded", health.Overall);

        // The open health endpoint says how each dependency is, never why: the Redis error named the internal endpoint,
        // the client's version and its connection state to anyone. The admin key gets the descriptions.
        using (var anonymous = host.Client())
        {
            var open = await anonymous.GetStringAsync("/ops/health");
            Assert.DoesNotContain(host.Redis.Endpoint, open, System.StringComparison.Ordinal);
            Assert.DoesNotContain("description", open, System.StringComparison.Ordinal);
        }

        using (var admin = host.Client(admin: true))
        {
            var detailed = await admin.GetFromJsonAsync<JsonElement>("/ops/health");
            Assert.Contains("Redis is unavailable", detailed.GetProperty("checks").GetProperty("redis").GetProperty("description").GetString(),
                System.StringComparison.Ordinal);
        }
        using (var write = await client.PostAsJsonAsync("/documents", new { title = "during the outage", body = "b" }))
        {
            Assert.Equal(HttpStatusCode.Created, write.StatusCode);
        }

        await host.Redis.RestartAsync();
        await TestSignal.UntilAsync(async () =>
        {
            using (await client.GetAsync("/documents?limit=5"))
            {
            }

            return (await HealthAsync()).Redis == "Healthy";
        }, "the cache to use Redis again");

        var list = await client.GetFromJsonAsync<JsonElement>("/documents?limit=5");
        Assert.Equal(2, list.GetProperty("items").GetArrayLength());
    }
}
