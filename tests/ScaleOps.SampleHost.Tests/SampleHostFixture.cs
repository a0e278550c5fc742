using System;
using System.Linq;
using System.Net.Http;
using System.Net.Http.Json;
using System.Threading.Tasks;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.DependencyInjection;
using ScaleOps.TestInfrastructure;

namespace ScaleOps.SampleHost.Tests;

/// <summary>The real sample host (its Program, middleware and endpoints) against a fresh database per test class.</summary>
public partial class SampleHostFixture : PostgresDatabase
{
    public const string AdminKey = "test-admin-key-0123456789";

    /// <summary>The sample connects as this NOSUPERUSER NOBYPASSRLS role, which owns its database, so RLS applies.</summary>
    public const string AppRole = "scaleops_sample_app";

    /// <summary>The free plan's limits in the tests (small, so tests reach them quickly).</summary>
    public const int FreeRequestsPerSecond = 5;

    /// <summary>The free plan's document quota in the tests.</summary>
    public const int FreeMaxDocuments = 3;

    private WebApplicationFactory<Program>? _factory;

    public WebApplicationFactory<Program> Factory => _factory ?? throw new InvalidOperationException("The fixture is not initialized.");

    public override async Task InitializeAsync()
    {
        await base.InitializeAsync();
        await PostgresServer.ExecuteAsync(
            $"DO $$ BEGIN CREATE ROLE {AppRole} LOGIN NOSUPERUSER NOBYPASSRLS; EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$");
        await PostgresServer.ExecuteAsync($"ALTER DATABASE \"{Name}\" OWNER TO {AppRole}");
        var redis = await RedisEndpointAsync();
        var appConnectionString = new Npgsql.NpgsqlConnectionStringBuilder(ConnectionString) { Username = AppRole }.ToString();
        _factory = CreateInstance(appConnectionString, redis);
        StartHost(_factory); // start the host: migrations run now
        _appConnectionString = appConnectionString;
        _redis = redis;
    }

    private string _appConnectionString = "";
    private string _redis = "";

    /// <summary>Starts another instance of the host on the same database and Redis (dispose it yourself).</summary>
    public WebApplicationFactory<Program> StartAnotherInstance()
    {
        var instance = CreateInstance(_appConnectionString, _redis);
        _ = instance.Server;
        return instance;
    }

    private WebApplicationFactory<Program> CreateInstance(string appConnectionString, string redis) =>
        new SampleHostFactory().WithWebHostBuilder(web =>
        {
            web.UseEnvironment("Production");
            web.UseSetting("ConnectionStrings:Postgres", appConnectionString);
            web.UseSetting("Sample:AdminKey", AdminKey);
            web.UseSetting("Sample:TenantCacheSeconds", "0");
            web.UseSetting("ConnectionStrings:Redis", redis);
            web.UseSetting("ScaleOps:Caching:KeyPrefix", $"sample-tests:{Name}");
            web.UseSetting("ScaleOps:Resilience:RateLimiting:RedisKeyPrefix", $"sample-tests:{Name}:rl:");
            web.UseSetting("Sample:Plans:free:RequestsPerSecond", FreeRequestsPerSecond.ToString(System.Globalization.CultureInfo.InvariantCulture));
            web.UseSetting("Sample:Plans:free:MaxDocuments", FreeMaxDocuments.ToString(System.Globalization.CultureInfo.InvariantCulture));
            web.ConfigureServices(services => services.AddSingleton<IStartupFilter, ClientAddressFromHeader>());
            ConfigureInstance(web);
        });

    /// <summary>
    /// Stops and disposes a host. Any exception a hosted service throws while stopping fails the test: the packages'
    /// services must survive WebApplicationFactory stopping the host while the app's own run loop stops it too.
    /// </summary>
    public static async Task DisposeHostAsync(WebApplicationFactory<Program> factory)
    {
        ArgumentNullException.ThrowIfNull(factory);
        await factory.DisposeAsync();
    }

    /// <summary>The private redis-server of a fixture with <see cref="UsePrivateRedis"/>, which its tests may stop.</summary>
    public PrivateRedisServer? Redis { get; private set; }

    /// <summary>Whether the host gets a redis-server of its own (a test that stops Redis must never stop the shared one).</summary>
    protected virtual bool UsePrivateRedis => false;

    /// <summary>The Redis the host uses: the shared test server unless a derived fixture brings its own.</summary>
    protected virtual async Task<string> RedisEndpointAsync()
    {
        if (!UsePrivateRedis)
        {
            return await TcpServer.RedisAsync();
        }

        Redis = await PrivateRedisServer.StartAsync();
        return Redis.Endpoint;
    }

    public override async Task DisposeAsync()
    {
        if (_factory is not null)
        {
            await DisposeHostAsync(_factory);
        }

        await base.DisposeAsync();
        if (Redis is not null)
        {
            await Redis.DisposeAsync();
        }
    }

    /// <summary>
    /// A client of the fixture's host. <paramref name="address"/> is the client address the host sees (the in-memory
    /// test server has none): sent as <see cref="ClientAddressHeader"/>, which only the tests' hosts read.
    /// </summary>
    public HttpClient Client(string? tenant = null, bool admin = false, string? address = null)
    {
        var client = Factory.CreateClient();
        if (address is not null)
        {
            client.DefaultRequestHeaders.Add(ClientAddressHeader, address);
        }

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

    /// <summary>
    /// Waits until the tenant's index jobs have all succeeded. A job's row turns <c>succeeded</c> only after its handler
    /// has returned, so its writes and cache invalidations are over by then (the document's <c>indexedAt</c> shows only
    /// the first of them).
    /// </summary>
    public Task UntilIndexJobsSucceededAsync(string tenant, int count) => TestSignal.UntilAsync(
        async () =>
        {
            await using var command = DataSource.CreateCommand(
                "SELECT count(*) FILTER (WHERE state = 'succeeded'), count(*) FROM scaleops.jobs WHERE kind = 'document.index' AND tenant_id = $1");
            command.Parameters.AddWithValue(tenant);
            await using var reader = await command.ExecuteReaderAsync();
            await reader.ReadAsync();
            return reader.GetInt64(0) == count && reader.GetInt64(1) == count;
        },
        $"the {count} index job(s) of tenant {tenant} to succeed");

    public async Task<string> RegisterTenantAsync(string id, string plan = "pro")
    {
        using var client = Client(admin: true);
        using var response = await client.PostAsJsonAsync("/tenants", new { id, plan });
        response.EnsureSuccessStatusCode();
        return id;
    }

    /// <summary>
    /// Makes a tenant's <c>Idempotency-Key</c> as old as <paramref name="age"/> on the database's clock (as if it was created
    /// that long ago), the clock its 24 hours run on.
    /// </summary>
    public async Task AgeIdempotencyKeyAsync(string tenant, string key, TimeSpan age)
    {
        await using var command = DataSource.CreateCommand(
            "UPDATE app.idempotency_keys SET created_at = clock_timestamp() - $3 WHERE tenant_id = $1 AND key = $2");
        command.Parameters.AddWithValue(tenant);
        command.Parameters.AddWithValue(key);
        command.Parameters.AddWithValue(age);
        Assert.Equal(1, await command.ExecuteNonQueryAsync());
    }
}
