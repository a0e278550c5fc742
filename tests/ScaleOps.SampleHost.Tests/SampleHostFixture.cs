using System;
using System.Net.Http;
using System.Net.Http.Json;
using System.Threading.Tasks;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using ScaleOps.TestInfrastructure;

namespace ScaleOps.SampleHost.Tests;

/// <summary>The real sample host (its Program, middleware and endpoints) against a fresh database per test class.</summary>
public class SampleHostFixture : PostgresDatabase
{
    public const string AdminKey = "test-admin-key-0123456789";

    private WebApplicationFactory<Program>? _factory;

    public WebApplicationFactory<Program> Factory => _factory ?? throw new InvalidOperationException("The fixture is not initialized.");

    public override async Task InitializeAsync()
    {
        await base.InitializeAsync();
        _factory = new WebApplicationFactory<Program>().WithWebHostBuilder(web =>
        {
            web.UseEnvironment("Production");
            web.UseSetting("ConnectionStrings:Postgres", ConnectionString);
            web.UseSetting("Sample:AdminKey", AdminKey);
            web.UseSetting("Sample:TenantCacheSeconds", "0");
        });
        _ = _factory.Server; // start the host: migrations run now
    }

    public override async Task DisposeAsync()
    {
        if (_factory is not null)
        {
            await _factory.DisposeAsync();
        }

        await base.DisposeAsync();
    }

    public HttpClient Client(string? tenant = null, bool admin = false)
    {
        var client = Factory.CreateClient();
        if (tenant is not null)
        {
            client.DefaultRequestHeaders.Add("X-Tenant-Id", tenant);
        }

        if (admin)
        {
            client.DefaultRequestHeaders.Add("X-Admin-Key", AdminKey);
        }

        return client;
    }

    public async Task<string> RegisterTenantAsync(string id, string plan = "pro")
    {
        using var client = Client(admin: true);
        using var response = await client.PostAsJsonAsync("/tenants", new { id, plan });
        response.EnsureSuccessStatusCode();
        return id;
    }
}
