using System.Linq;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using System.Threading.Tasks;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using ScaleOps.Jobs;
using ScaleOps.Tenancy;
using ScaleOps.TestInfrastructure;

namespace ScaleOps.SampleHost.Tests;

/// <summary>An "index document" job whose payload cannot be read: the worker makes it dead at once.</summary>
[JobKind("document.index")]
public sealed record UnreadableIndexJob(string DocumentId);

public class DashboardTests(SampleHostFixture host) : IClassFixture<SampleHostFixture>
{
    [Fact]
    public async Task The_dashboard_page_is_served_and_holds_no_data_itself()
    {
        using var client = host.Client();
        using var response = await client.GetAsync("/ops");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/html", response.Content.Headers.ContentType?.MediaType);
        var html = await response.Content.ReadAsStringAsync();
        foreach (var id in new[] { "id=\"queues\"", "id=\"dead-jobs\"", "id=\"partitions\"", "id=\"circuits\"", "id=\"admin-key\"" })
        {
            Assert.Contains(id, html, System.StringComparison.Ordinal);
        }

        Assert.DoesNotContain(SampleHostFixture.AdminKey, html, System.StringComparison.Ordinal);
    }

    [Fact]
    public void The_host_logs_its_own_events_but_not_every_SQL_command()
    {
        // Npgsql logs each command at Information: with the template's settings a busy host would log every job fetch.
        var loggers = host.Factory.Services.GetRequiredService<ILoggerFactory>();
        Assert.True(loggers.CreateLogger("ScaleOps.Jobs.Internal.JobWorker").IsEnabled(LogLevel.Information));
        Assert.False(loggers.CreateLogger("Npgsql.Command").IsEnabled(LogLevel.Information), "Npgsql.Command logs at Information");
        Assert.True(loggers.CreateLogger("Npgsql.Command").IsEnabled(LogLevel.Warning));
    }

    [Fact]
    public async Task A_dead_job_is_listed_and_can_be_retried_and_discarded()
    {
        var tenant = await host.RegisterTenantAsync("dash-dead");
        var jobs = host.Factory.Services.GetRequiredService<IJobClient>();
        var id = await jobs.EnqueueAsync(new UnreadableIndexJob("not-a-guid"), new JobOptions { Queue = "indexing", Tenant = new TenantId(tenant) });
        Assert.NotNull(id);

        using var admin = host.Client(admin: true);
        async Task<JsonElement?> DeadAsync() =>
            (await admin.GetFromJsonAsync<JsonElement>("/ops/jobs")).GetProperty("dead").EnumerateArray()
                .Select(j => (JsonElement?)j).FirstOrDefault(j => j!.Value.GetProperty("id").GetInt64() == id);

        await TestSignal.UntilAsync(async () => await DeadAsync() is not null, "the unreadable job to be dead");
        var dead = (await DeadAsync())!.Value;
        Assert.Equal(tenant, dead.GetProperty("tenant").GetString());
        Assert.False(string.IsNullOrEmpty(dead.GetProperty("lastError").GetString()));

        using (var retry = await admin.PostAsync($"/ops/jobs/{id}/retry", null))
        {
            Assert.Equal(HttpStatusCode.NoContent, retry.StatusCode);
        }

        // Retried, it fails the same way and is dead again; then discarded, it is gone.
        var firstDeath = dead.GetProperty("finishedAt").GetDateTimeOffset();
        await TestSignal.UntilAsync(async () => await DeadAsync() is { } again && again.GetProperty("finishedAt").GetDateTimeOffset() > firstDeath,
            "the retried job to run and die again");
        using (var discard = await admin.PostAsync($"/ops/jobs/{id}/discard", null))
        {
            Assert.Equal(HttpStatusCode.NoContent, discard.StatusCode);
        }

        Assert.Null(await DeadAsync());
    }
}
