using System;
using System.Net;
using System.Net.Http.Json;
using System.Threading.Tasks;

namespace ScaleOps.SampleHost.Tests;

/// <summary>
/// What a client sees of an error nobody handled (here PostgreSQL's, the host's tables renamed away under it): a 500
/// problem with the status's type and title and a trace id, and nothing of the error itself (SQL, names, the driver's
/// messages); the host logs that under the trace id. The class's own database, since the test breaks it.
/// </summary>
public class UnexpectedErrorTests(SampleHostFixture host) : IClassFixture<SampleHostFixture>
{
    [Fact]
    public async Task A_database_error_in_the_tenant_filter_is_a_500_problem_that_quotes_nothing_of_it()
    {
        using var client = host.Client("broken-registry");
        using var admin = host.Client(admin: true);
        await using (var rename = host.DataSource.CreateCommand("ALTER TABLE app.tenants RENAME TO tenants_renamed_away"))
        {
            await rename.ExecuteNonQueryAsync();
        }

        try
        {
            // The tenant filter's lookup (before any endpoint), and an admin endpoint's own statement.
            foreach (var response in new[] { await client.GetAsync("/documents"), await admin.PostAsJsonAsync("/tenants", new { id = "broken-new", plan = "pro" }) })
            {
                using (response)
                {
                    var text = (await HttpContractTests.IsStandardProblemAsync(response, HttpStatusCode.InternalServerError, "registry error")).GetRawText();
                    foreach (var leak in new[] { "tenants", "relation", "42P01", "SELECT", "INSERT", "Host=", "127.0.0.1", "postgres" })
                    {
                        Assert.DoesNotContain(leak, text, StringComparison.OrdinalIgnoreCase);
                    }
                }
            }
        }
        finally
        {
            await using var back = host.DataSource.CreateCommand("ALTER TABLE app.tenants_renamed_away RENAME TO tenants");
            await back.ExecuteNonQueryAsync();
        }
    }

    [Fact]
    public async Task A_database_error_is_a_500_problem_that_quotes_nothing_of_it()
    {
        using var client = host.Client(await host.RegisterTenantAsync("broken-db"));
        using (var created = await client.PostAsJsonAsync("/documents", new { title = "t", body = "b" }))
        {
            Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        }

        await using (var rename = host.DataSource.CreateCommand("ALTER TABLE app.documents RENAME TO documents_renamed_away"))
        {
            await rename.ExecuteNonQueryAsync();
        }

        try
        {
            foreach (var send in new Func<System.Threading.Tasks.Task<System.Net.Http.HttpResponseMessage>>[]
                     {
                         () => client.GetAsync($"/documents/{Guid.NewGuid()}"),
                         () => client.PostAsJsonAsync("/documents", new { title = "t2", body = "b" }),
                     })
            {
                using var response = await send();
                var body = await HttpContractTests.IsStandardProblemAsync(response, HttpStatusCode.InternalServerError, "database error");
                var text = body.GetRawText();
                foreach (var leak in new[] { "documents", "relation", "42P01", "SELECT", "INSERT", "Host=", "127.0.0.1", "postgres" })
                {
                    Assert.DoesNotContain(leak, text, StringComparison.OrdinalIgnoreCase);
                }
            }
        }
        finally
        {
            await using var back = host.DataSource.CreateCommand("ALTER TABLE app.documents_renamed_away RENAME TO documents");
            await back.ExecuteNonQueryAsync();
        }
    }
}
