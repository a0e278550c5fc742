using System;
using System.Net.Http;
using System.Threading.Tasks;
using Microsoft.AspNetCore.Hosting;

namespace ScaleOps.SampleHost.Tests;

/// <summary>
/// The host on Kestrel (a real socket: HEAD answers, oversized uploads and connection handling are the server's, not the
/// in-memory test server's) with every endpoint group mapped, the demo-only backfill included.
/// </summary>
public sealed class HttpContractFixture : KestrelSampleHostFixture
{
    /// <summary>A registered tenant every client of <see cref="Http"/> names.</summary>
    public const string Tenant = "http-contract";

    protected override void ConfigureInstance(IWebHostBuilder web) => web.UseSetting("Sample:DemoEndpoints", "true");

    public override async Task InitializeAsync()
    {
        await base.InitializeAsync();
        await RegisterTenantAsync(Tenant);
    }

    /// <summary>A client of the host's real socket that sends the tenant and the admin key (so only what is tested is wrong).</summary>
    public HttpClient Http()
    {
        var client = new HttpClient { BaseAddress = BaseAddress };
        client.DefaultRequestHeaders.Add("X-Tenant-Id", Tenant);
        client.DefaultRequestHeaders.Add("X-Admin-Key", AdminKey);
        return client;
    }

    /// <summary>Every endpoint that reads a JSON request body, with a path that reaches its body check.</summary>
    public static TheoryData<string, string> JsonBodyEndpoints() => new()
    {
        { "POST", "/documents" },
        { "PUT", $"/documents/{Guid.Empty}" },
        { "POST", "/tenants" },
        { "PUT", $"/tenants/{Tenant}/plan" },
        { "POST", "/ops/audit/backfill" },
    };
}
