using System.Net;
using System.Net.Http;
using System.Net.Http.Json;
using System.Text;
using System.Threading.Tasks;

namespace ScaleOps.SampleHost.Tests;

public class TenantEndpointTests(SampleHostFixture host) : IClassFixture<SampleHostFixture>
{
    [Fact]
    public async Task Registering_a_tenant_is_201_then_409()
    {
        using var client = host.Client(admin: true);
        using var created = await client.PostAsJsonAsync("/tenants", new { id = "reg-once", plan = "free" });
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        Assert.Equal("/tenants/reg-once", created.Headers.Location?.ToString());

        using var again = await client.PostAsJsonAsync("/tenants", new { id = "reg-once", plan = "pro" });
        await ProblemAssert.IsProblemAsync(again, HttpStatusCode.Conflict);
    }

    [Theory]
    [InlineData("{\"id\":\"UPPER\",\"plan\":\"free\"}")]
    [InlineData("{\"id\":\"acme\\n\",\"plan\":\"free\"}")]
    [InlineData("{\"id\":\"\",\"plan\":\"free\"}")]
    [InlineData("{\"id\":\"x'; drop table app.tenants;--\",\"plan\":\"free\"}")]
    [InlineData("{\"id\":\"ok-id\",\"plan\":\"platinum\"}")]
    [InlineData("{\"id\":\"ok-id\"}")]
    [InlineData("{\"id\":42,\"plan\":\"free\"}")]
    [InlineData("not json")]
    [InlineData("null")]
    [InlineData("")]
    public async Task Bad_registrations_are_400_problems(string json)
    {
        using var client = host.Client(admin: true);
        using var response = await client.PostAsync("/tenants", new StringContent(json, Encoding.UTF8, "application/json"));
        await ProblemAssert.IsProblemAsync(response, HttpStatusCode.BadRequest);
    }

    [Fact]
    public async Task Admin_endpoints_require_the_admin_key()
    {
        using var anonymous = host.Client();
        using var response = await anonymous.PostAsJsonAsync("/tenants", new { id = "no-key", plan = "free" });
        await ProblemAssert.IsProblemAsync(response, HttpStatusCode.Unauthorized);

        using var wrong = host.Client();
        wrong.DefaultRequestHeaders.Add("X-Admin-Key", "wrong-key-wrong-key-wrong");
        using var plan = await wrong.PutAsJsonAsync("/tenants/no-key/plan", new { plan = "pro" });
        await ProblemAssert.IsProblemAsync(plan, HttpStatusCode.Unauthorized);
    }

    [Fact]
    public async Task Changing_a_plan_works_and_unknown_tenants_are_404()
    {
        await host.RegisterTenantAsync("plan-change", "free");
        using var client = host.Client(admin: true);
        using var changed = await client.PutAsJsonAsync("/tenants/plan-change/plan", new { plan = "enterprise" });
        Assert.Equal(HttpStatusCode.OK, changed.StatusCode);

        using var missing = await client.PutAsJsonAsync("/tenants/not-there/plan", new { plan = "pro" });
        await ProblemAssert.IsProblemAsync(missing, HttpStatusCode.NotFound);
        using var badPlan = await client.PutAsJsonAsync("/tenants/plan-change/plan", new { plan = "gold" });
        await ProblemAssert.IsProblemAsync(badPlan, HttpStatusCode.BadRequest);
        using var badId = await client.PutAsJsonAsync("/tenants/Bad_Id/plan", new { plan = "pro" });
        await ProblemAssert.IsProblemAsync(badId, HttpStatusCode.BadRequest);
    }
}
