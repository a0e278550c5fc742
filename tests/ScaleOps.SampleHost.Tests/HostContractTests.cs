using System;
using System.Linq;
using System.Net;
using System.Net.Http;
using System.Net.Http.Json;
using System.Text.Json;
using System.Threading.Tasks;
using Microsoft.AspNetCore.Hosting;

namespace ScaleOps.SampleHost.Tests;

/// <summary>README claims about the host as a whole: /ops/health with and without the key, /metrics, refusals to start.</summary>
public class HostContractTests(SampleHostFixture host) : IClassFixture<SampleHostFixture>
{
    [Fact]
    public async Task Health_answers_each_checks_status_to_anyone_and_the_descriptions_only_with_the_key()
    {
        using var anonymous = host.Client(address: "192.0.2.50");
        using var open = await anonymous.GetAsync("/ops/health");
        Assert.Equal(HttpStatusCode.OK, open.StatusCode);
        var body = await open.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal("Healthy", body.GetProperty("status").GetString());
        var checks = body.GetProperty("checks");
        Assert.Equal(["breakers", "postgres", "redis"], checks.EnumerateObject().Select(c => c.Name).Order(StringComparer.Ordinal));
        foreach (var check in checks.EnumerateObject())
        {
            Assert.Equal(["status"], check.Value.EnumerateObject().Select(p => p.Name));
        }

        using var admin = host.Client(admin: true, address: "192.0.2.50");
        var detailed = await admin.GetFromJsonAsync<JsonElement>("/ops/health");
        foreach (var check in detailed.GetProperty("checks").EnumerateObject())
        {
            Assert.Equal(["description", "status"], check.Value.EnumerateObject().Select(p => p.Name).Order(StringComparer.Ordinal));
        }
    }

    [Fact]
    public async Task Metrics_are_open_and_name_no_tenant()
    {
        var tenant = await host.RegisterTenantAsync("metrics-tenant-zq7");
        using (var client = host.Client(tenant))
        {
            using var created = await client.PostAsJsonAsync("/documents", new { title = "t", body = "b" });
            Assert.Equal(HttpStatusCode.Created, created.StatusCode);
            using var listed = await client.GetAsync("/documents");
            Assert.Equal(HttpStatusCode.OK, listed.StatusCode);
        }

        await host.UntilIndexJobsSucceededAsync(tenant, 1);
        using var anonymous = host.Client();
        using var metrics = await anonymous.GetAsync("/metrics");
        Assert.Equal(HttpStatusCode.OK, metrics.StatusCode);
        var text = await metrics.Content.ReadAsStringAsync();
        Assert.Contains("document.index", text, StringComparison.Ordinal);
        Assert.DoesNotContain(tenant, text, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("                    ")]
    [InlineData("short-key")]
    public async Task The_host_refuses_to_start_with_a_blank_or_short_admin_key(string key)
    {
        var error = await Assert.ThrowsAnyAsync<Exception>(() => Task.Run(() =>
        {
            using var instance = host.StartAnotherInstance(web => web.UseSetting("Sample:AdminKey", key));
        }));
        Assert.Contains("Sample:AdminKey", error.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_host_refuses_to_start_as_a_superuser()
    {
        var error = await Assert.ThrowsAnyAsync<Exception>(() => Task.Run(() =>
        {
            using var instance = host.StartAnotherInstance(web =>
            {
                web.UseSetting("ConnectionStrings:Postgres", host.ConnectionString);
                web.UseSetting("Sample:RunJobs", "false");
                web.UseSetting("Sample:RunPartitionMaintenance", "false");
            });
        }));
        Assert.Contains("superuser", error.ToString(), StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public async Task The_host_refuses_to_start_when_its_sessions_start_with_a_tenant()
    {
        // A tenant context as a session default (here the connection string's Options; ALTER ROLE ... SET does the same)
        // would make every statement sent without the context run as that tenant instead of seeing no row.
        var sessionTenant = new Npgsql.NpgsqlConnectionStringBuilder(host.ConnectionString)
        {
            Username = SampleHostFixture.AppRole,
            Options = "-c app.tenant_id=acme",
        }.ToString();
        var error = await Assert.ThrowsAnyAsync<Exception>(() => Task.Run(() =>
        {
            using var instance = host.StartAnotherInstance(web =>
            {
                web.UseSetting("ConnectionStrings:Postgres", sessionTenant);
                web.UseSetting("Sample:RunJobs", "false");
                web.UseSetting("Sample:RunPartitionMaintenance", "false");
            });
        }));
        Assert.Contains("sessions start with app.tenant_id = 'acme'", error.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_dashboards_data_endpoints_report_this_hosts_state()
    {
        var tenant = await host.RegisterTenantAsync("ops-data-tenant");
        using (var client = host.Client(tenant))
        {
            using var created = await client.PostAsJsonAsync("/documents", new { title = "t", body = "b" });
            Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        }

        await host.UntilIndexJobsSucceededAsync(tenant, 1);
        using var admin = host.Client(admin: true);

        var rls = await admin.GetFromJsonAsync<JsonElement>("/ops/rls");
        Assert.Equal("app", rls.GetProperty("schema").GetString());
        Assert.True(rls.GetProperty("clean").GetBoolean(), rls.GetRawText());

        var migrations = (await admin.GetFromJsonAsync<JsonElement>("/ops/migrations")).GetProperty("items").EnumerateArray()
            .Where(m => m.GetProperty("component").GetString() == "sample").Select(m => m.GetProperty("version").GetInt32()).ToArray();
        Assert.Equal([1, 2, 3], migrations);

        var audit = Assert.Single((await admin.GetFromJsonAsync<JsonElement>("/ops/partitions")).GetProperty("tables").EnumerateArray(),
            t => t.GetProperty("table").GetString() == "\"scaleops\".\"audit_log\"");
        Assert.True(audit.GetProperty("healthy").GetBoolean(), audit.GetRawText());
        Assert.Equal(0, audit.GetProperty("missingFuturePartitions").GetInt32());

        var jobs = await admin.GetFromJsonAsync<JsonElement>("/ops/jobs");
        var indexing = Assert.Single(jobs.GetProperty("queues").EnumerateArray(), q => q.GetProperty("queue").GetString() == "indexing");
        Assert.True(indexing.GetProperty("succeeded").GetInt64() >= 1, indexing.GetRawText());
        Assert.Equal(0, jobs.GetProperty("dead").GetArrayLength());

        Assert.Equal(JsonValueKind.Array, (await admin.GetFromJsonAsync<JsonElement>("/ops/circuits")).GetProperty("circuits").ValueKind);
    }
}
