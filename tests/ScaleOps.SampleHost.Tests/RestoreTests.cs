using System;
using System.Globalization;
using System.Linq;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using System.Threading.Tasks;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Testing;
using ScaleOps.Partitioning.Archive;

namespace ScaleOps.SampleHost.Tests;

/// <summary><c>POST /ops/partitions/{schema}/{table}/{partition}/restore</c>: an archived partition back in PostgreSQL.</summary>
public class RestoreTests(BlobSampleHostFixture host) : IClassFixture<BlobSampleHostFixture>
{
    private static string Iso(DateTimeOffset value) => Uri.EscapeDataString(value.ToString("O", CultureInfo.InvariantCulture));

    private async Task<string[]> AuditPartitionsAsync()
    {
        using var admin = host.Client(admin: true);
        var partitions = await admin.GetFromJsonAsync<JsonElement>("/ops/partitions");
        return [.. partitions.GetProperty("tables").EnumerateArray().Single(t => t.GetProperty("table").GetString() == "\"scaleops\".\"audit_log\"")
            .GetProperty("partitions").EnumerateArray().Select(p => p.GetProperty("name").GetString()!)];
    }

    [Fact]
    public async Task An_archived_audit_partition_is_restored_with_its_events_and_a_second_restore_finds_them_in_place()
    {
        var tenant = await host.RegisterTenantAsync("restore-old");
        using var admin = host.Client(admin: true);
        using var client = host.Client(tenant);
        var partitions = await admin.GetFromJsonAsync<JsonElement>("/ops/partitions");
        var oldest = partitions.GetProperty("tables").EnumerateArray().Single(t => t.GetProperty("table").GetString() == "\"scaleops\".\"audit_log\"")
            .GetProperty("partitions").EnumerateArray().Where(p => !p.GetProperty("isDefault").GetBoolean())
            .OrderBy(p => p.GetProperty("from").GetDateTime()).First();
        var name = oldest.GetProperty("name").GetString()!;
        var from = new DateTimeOffset(oldest.GetProperty("from").GetDateTime(), TimeSpan.Zero);
        var to = new DateTimeOffset(oldest.GetProperty("to").GetDateTime(), TimeSpan.Zero);
        using (var seeded = await admin.PostAsJsonAsync("/ops/audit/backfill", new { tenant, at = from.AddDays(1), count = 4 }))
        {
            Assert.Equal(HttpStatusCode.Created, seeded.StatusCode);
        }

        using (var archived = await admin.PostAsync($"/ops/partitions/scaleops/audit_log/{name}/archive", null))
        {
            Assert.Equal(HttpStatusCode.OK, archived.StatusCode);
        }

        var auditUrl = $"/audit?from={Iso(from)}&to={Iso(to)}";
        Assert.Equal(0, (await client.GetFromJsonAsync<JsonElement>(auditUrl)).GetProperty("items").GetArrayLength());
        Assert.DoesNotContain(name, await AuditPartitionsAsync());

        using (var restored = await admin.PostAsync($"/ops/partitions/scaleops/audit_log/{name}/restore", null))
        {
            Assert.Equal(HttpStatusCode.OK, restored.StatusCode);
            var body = await restored.Content.ReadFromJsonAsync<JsonElement>();
            Assert.Equal(4, body.GetProperty("rows").GetInt64());
            Assert.Equal(name, body.GetProperty("partition").GetString());
        }

        // Attached again with its bounds, and readable by the tenant (row-level security and grants came with it).
        Assert.Contains(name, await AuditPartitionsAsync());
        var events = (await client.GetFromJsonAsync<JsonElement>(auditUrl)).GetProperty("items");
        Assert.Equal(4, events.GetArrayLength());
        Assert.All(events.EnumerateArray(), e => Assert.Equal("legacy.imported", e.GetProperty("action").GetString()));
        using (var other = host.Client(await host.RegisterTenantAsync("restore-other")))
        {
            Assert.Equal(0, (await other.GetFromJsonAsync<JsonElement>(auditUrl)).GetProperty("items").GetArrayLength());
        }

        // Run again (as after a restore whose manifest update failed): the rows are found in place, none is added.
        using (var again = await admin.PostAsync($"/ops/partitions/scaleops/audit_log/{name}/restore", null))
        {
            Assert.Equal(HttpStatusCode.OK, again.StatusCode);
            Assert.Equal(4, (await again.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("rows").GetInt64());
        }

        Assert.Equal(4, (await client.GetFromJsonAsync<JsonElement>(auditUrl)).GetProperty("items").GetArrayLength());
    }

    [Fact]
    public async Task Restore_refuses_bad_input_and_what_has_no_archive_with_problem_details()
    {
        using var admin = host.Client(admin: true);
        using var anonymous = host.Client();
        await ProblemAssert.IsProblemAsync(await anonymous.PostAsync("/ops/partitions/scaleops/audit_log/audit_log_p2000_01/restore", null),
            HttpStatusCode.Unauthorized);
        await ProblemAssert.IsProblemAsync(await admin.PostAsync("/ops/partitions/scaleops/audit_log/audit_log_p2000_01/restore", null), HttpStatusCode.NotFound);
        await ProblemAssert.IsProblemAsync(await admin.PostAsync("/ops/partitions/scaleops/no_such_table/p1/restore", null), HttpStatusCode.NotFound);
        await ProblemAssert.IsProblemAsync(await admin.PostAsync($"/ops/partitions/scaleops/audit_log/{new string('p', 64)}/restore", null),
            HttpStatusCode.BadRequest);

        // The current month's partition is attached and was never archived: nothing to restore.
        var current = $"audit_log_p{DateTime.UtcNow:yyyy_MM}";
        Assert.Contains(current, await AuditPartitionsAsync());
        await ProblemAssert.IsProblemAsync(await admin.PostAsync($"/ops/partitions/scaleops/audit_log/{current}/restore", null), HttpStatusCode.NotFound);
    }

    [Fact]
    public async Task A_restore_that_fails_is_a_500_that_quotes_nothing_and_the_log_has_the_error()
    {
        var archiver = new ThrowingArchiver("archive-9c1e@10.4.5.6", "The archive archive-9c1e@10.4.5.6 was written by another database.", withManifests: true);
        var instance = host.StartQuietInstance(services =>
        {
            services.AddSingleton<IPartitionArchiver>(archiver);
            services.AddFakeLogging();
        });
        try
        {
            using var client = instance.CreateClient();
            client.DefaultRequestHeaders.Add("X-Admin-Key", SampleHostFixture.AdminKey);
            var problem = await ProblemAssert.IsProblemAsync(
                await client.PostAsync("/ops/partitions/scaleops/audit_log/audit_log_p2000_01/restore", null), HttpStatusCode.InternalServerError);
            Assert.DoesNotContain(archiver.Secret, problem.GetRawText(), StringComparison.Ordinal);
            Assert.Contains(instance.Services.GetFakeLogCollector().GetSnapshot(), r => r.Exception?.Message == archiver.Message);
        }
        finally
        {
            await SampleHostFixture.DisposeHostAsync(instance);
        }
    }

}
