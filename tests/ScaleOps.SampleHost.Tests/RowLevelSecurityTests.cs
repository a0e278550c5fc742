using System.Net;
using System.Net.Http.Json;
using System.Threading.Tasks;
using Npgsql;

namespace ScaleOps.SampleHost.Tests;

public class RowLevelSecurityTests(SampleHostFixture host) : IClassFixture<SampleHostFixture>
{
    [Fact]
    public async Task The_documents_table_is_forced_under_rls_and_fails_closed_for_the_app_role()
    {
        using var client = host.Client(await host.RegisterTenantAsync("rls-owner"));
        using (var created = await client.PostAsJsonAsync("/documents", new { title = "t", body = "b" }))
        {
            Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        }

        await using (var admin = await host.DataSource.OpenConnectionAsync())
        await using (var flags = new NpgsqlCommand(
            "SELECT relrowsecurity AND relforcerowsecurity FROM pg_class WHERE oid = 'app.documents'::regclass", admin))
        {
            Assert.Equal(true, await flags.ExecuteScalarAsync());
        }

        // The application role with no tenant context sees nothing, even without a WHERE clause.
        var appConnectionString = new NpgsqlConnectionStringBuilder(host.ConnectionString) { Username = SampleHostFixture.AppRole, Pooling = false };
        await using var app = new NpgsqlConnection(appConnectionString.ToString());
        await app.OpenAsync();
        await using var count = new NpgsqlCommand("SELECT count(*) FROM app.documents", app);
        Assert.Equal(0L, await count.ExecuteScalarAsync());

        // ...and cannot write a row for a tenant it is not.
        await using var insert = new NpgsqlCommand(
            "INSERT INTO app.documents (tenant_id, id, title, body, created_at, updated_at) VALUES ('rls-owner', gen_random_uuid(), 'x', 'y', now(), now())", app);
        var ex = await Assert.ThrowsAsync<PostgresException>(() => insert.ExecuteNonQueryAsync());
        Assert.Equal("42501", ex.SqlState);
    }

    [Fact]
    public async Task The_idempotency_keys_table_is_forced_under_rls_too()
    {
        using var client = host.Client(await host.RegisterTenantAsync("rls-keys"));
        using (var request = new System.Net.Http.HttpRequestMessage(System.Net.Http.HttpMethod.Post, "/documents")
        {
            Content = JsonContent.Create(new { title = "t", body = "b" }),
            Headers = { { "Idempotency-Key", "rls-key" } },
        })
        using (var created = await client.SendAsync(request))
        {
            Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        }

        await using (var admin = await host.DataSource.OpenConnectionAsync())
        await using (var flags = new NpgsqlCommand(
            "SELECT relrowsecurity AND relforcerowsecurity FROM pg_class WHERE oid = 'app.idempotency_keys'::regclass", admin))
        {
            Assert.Equal(true, await flags.ExecuteScalarAsync());
        }

        var appConnectionString = new NpgsqlConnectionStringBuilder(host.ConnectionString) { Username = SampleHostFixture.AppRole, Pooling = false };
        await using var app = new NpgsqlConnection(appConnectionString.ToString());
        await app.OpenAsync();
        await using var count = new NpgsqlCommand("SELECT count(*) FROM app.idempotency_keys", app);
        Assert.Equal(0L, await count.ExecuteScalarAsync());
    }
}
