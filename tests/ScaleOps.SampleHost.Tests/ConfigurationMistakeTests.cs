using System;
using System.Net;
using System.Net.Http.Json;
using System.Threading.Tasks;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace ScaleOps.SampleHost.Tests;

/// <summary>
/// Settings a user copying the sample host gets wrong: the start fails with a message naming the setting they wrote
/// (not an internal one), or, for a tenant whose plan this host does not configure, each request gets a 4xx that says so.
/// </summary>
public class ConfigurationMistakeTests(SampleHostFixture host) : IClassFixture<SampleHostFixture>
{
    [Theory]
    [InlineData("Sample:TenantCacheSecond", "3", "Sample:TenantCacheSecond is not a known setting")]
    [InlineData("Sample:RunJob", "false", "Sample:RunJob is not a known setting")]
    [InlineData("Sample:Plans:pro:RequestsPerSecnd", "50", "Sample:Plans:pro:RequestsPerSecnd is not a known setting")]
    [InlineData("Sample:Plans:team:MaxDocuments", "5", "Sample:Plans:team:RequestsPerSecond must be at least 1 (it is 0)")]
    [InlineData("Sample:Plans:free:RequestsPerSecond", "-1", "Sample:Plans:free:RequestsPerSecond must be at least 1 (it is -1)")]
    [InlineData("Sample:Plans:free:MaxDocuments", "0", "Sample:Plans:free:MaxDocuments must be at least 1 (it is 0)")]
    [InlineData("Sample:Plans:Pro:RequestsPerSecond", "200", "Sample:Plans:Pro differs from the plan pro only in case")]
    [InlineData("Sample:Plans:Enterprise:MaxDocuments", "7", "Sample:Plans:Enterprise differs from the plan enterprise only in case")]
    [InlineData("ConnectionStrings:Blob", "not a connection string", "ConnectionStrings:Blob is not a storage connection string")]
    [InlineData("ConnectionStrings:Blob", "BlobEndpoint=http://127.0.0.1:10000/devstoreaccount1;AccountName=x",
        "ConnectionStrings:Blob is not a storage connection string")]
    [InlineData("ScaleOps:Shema", "x", "ScaleOps:Shema is not a known setting")]
    [InlineData("ConnectionStrings:Postgres", "", "ConnectionStrings:Postgres")]
    public async Task A_mistaken_setting_stops_the_start_with_a_message_naming_it(string key, string value, string message)
    {
        var error = await Assert.ThrowsAnyAsync<Exception>(() => Task.Run(() =>
        {
            using var instance = host.StartAnotherInstance(web =>
            {
                web.UseSetting(key, value);
                web.UseSetting("Sample:RunJobs", "false");
                web.UseSetting("Sample:RunPartitionMaintenance", "false");
            });
        }));
        // The whole exception on failure, not only its first line. (Once an ObjectDisposedException: the test's thread came
        // after the failed start had disposed the host; SampleHostFactory now holds the start for it.)
        Assert.True(error.Message.Contains(message, StringComparison.Ordinal), $"Expected \"{message}\" in:\n{error}");
    }

    [Fact]
    public async Task Run_with_only_the_shipped_appsettings_the_host_says_which_connection_string_to_set()
    {
        // What a user who forgets ConnectionStrings__Postgres gets: the settings of the sample's own appsettings.json.
        var redis = await ScaleOps.TestInfrastructure.TcpServer.RedisAsync();
        var error = await Assert.ThrowsAnyAsync<Exception>(() => Task.Run(() =>
        {
            using var bare = new SampleHostFactory().WithWebHostBuilder(web =>
            {
                web.UseEnvironment("Production");
                web.UseSetting("Sample:AdminKey", SampleHostFixture.AdminKey);
                web.UseSetting("ConnectionStrings:Redis", redis);
            });
            _ = bare.Server;
        }));
        Assert.Contains("ConnectionStrings:Postgres", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_failed_start_reaches_a_test_whose_thread_comes_late()
    {
        // On a loaded machine the test's thread may look at the host only after the app's own start (Program's
        // app.Run(), on its thread) has failed and disposed it: it got "Cannot access a disposed object", not the message.
        var redis = await ScaleOps.TestInfrastructure.TcpServer.RedisAsync();
        var error = await Assert.ThrowsAnyAsync<Exception>(() => Task.Run(() =>
        {
            using var late = new SampleHostFactory { BeforeStart = UntilTheAppHasGoneAsFarAsItCan }.WithWebHostBuilder(web =>
            {
                web.UseEnvironment("Production");
                web.UseSetting("Sample:AdminKey", SampleHostFixture.AdminKey);
                web.UseSetting("ConnectionStrings:Redis", redis);
                web.UseSetting("ConnectionStrings:Postgres", "");
            });
            _ = late.Server;
        }));
        Assert.True(error.Message.Contains("ConnectionStrings:Postgres", StringComparison.Ordinal), $"Expected the setting in:\n{error}");
    }

    /// <summary>Waits until the app's start has failed and disposed the host, or waits for the test's thread.</summary>
    private static void UntilTheAppHasGoneAsFarAsItCan(IHost host) => ScaleOps.TestInfrastructure.TestSignal.UntilAsync(
        () => Task.FromResult(IsDisposed(host) || host.Services.GetService<SampleHostFactory.StartHold>()?.Reached.IsCompleted == true),
        "the app's start to fail or to wait for the test").GetAwaiter().GetResult();

    private static bool IsDisposed(IHost host)
    {
        try
        {
            _ = host.Services.GetService<IHostApplicationLifetime>();
            return false;
        }
        catch (ObjectDisposedException)
        {
            return true;
        }
    }

    [Fact]
    public async Task A_tenant_whose_plan_the_host_does_not_configure_gets_a_403_naming_the_plan_and_the_setting()
    {
        var tenant = await host.RegisterTenantAsync("plan-not-configured");
        // Its plan was removed from the configuration (or written by another system): the registry holds what it holds.
        await using (var command = host.DataSource.CreateCommand("UPDATE app.tenants SET plan = 'gold' WHERE id = $1"))
        {
            command.Parameters.AddWithValue(tenant);
            await command.ExecuteNonQueryAsync();
        }

        using var client = host.Client(tenant);
        using var list = await client.GetAsync("/documents");
        var problem = await ProblemAssert.IsProblemAsync(list, HttpStatusCode.Forbidden);
        var detail = problem.GetProperty("detail").GetString()!;
        Assert.Contains("'gold'", detail, StringComparison.Ordinal);
        Assert.Contains("Sample:Plans", detail, StringComparison.Ordinal);

        // The fix the detail names: an operator moves the tenant to a configured plan.
        using (var admin = host.Client(admin: true))
        using (var changed = await admin.PutAsJsonAsync($"/tenants/{tenant}/plan", new { plan = "pro" }))
        {
            Assert.Equal(HttpStatusCode.OK, changed.StatusCode);
        }

        using var again = await client.GetAsync("/documents");
        Assert.Equal(HttpStatusCode.OK, again.StatusCode);
    }
}
