using System;
using System.Globalization;
using System.Linq;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using System.Threading.Tasks;
using Azure.Storage.Blobs;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Testing;
using ScaleOps.Partitioning.Archive;
using ScaleOps.TestInfrastructure;

namespace ScaleOps.SampleHost.Tests;

/// <summary>The sample host with Blob storage (Azurite, a container of its own) and the demo-only backfill endpoint.</summary>
public sealed class BlobSampleHostFixture : SampleHostFixture
{
    public string Blob { get; private set; } = "";

    public string Container { get; } = $"sample-archive-{Guid.NewGuid():N}";

    public override async Task InitializeAsync()
    {
        Blob = await TcpServer.BlobAsync();
        await base.InitializeAsync();
    }

    protected override void ConfigureInstance(IWebHostBuilder web)
    {
        web.UseSetting("ConnectionStrings:Blob", Blob);
        web.UseSetting("ScaleOps:Partitioning:ArchiveContainer", Container);
        web.UseSetting("Sample:DemoEndpoints", "true");
    }
}

public class ArchiveTests(BlobSampleHostFixture host) : IClassFixture<BlobSampleHostFixture>
{
    private static string Iso(DateTimeOffset value) => Uri.EscapeDataString(value.ToString("O", CultureInfo.InvariantCulture));

    [Fact]
    public async Task An_old_audit_partition_is_archived_to_blob_storage_and_removed()
    {
        var tenant = await host.RegisterTenantAsync("archive-old");
        using var admin = host.Client(admin: true);
        using var client = host.Client(tenant);

        // The oldest audit partition maintenance created at start-up (months back): old events go there.
        var partitions = await admin.GetFromJsonAsync<JsonElement>("/ops/partitions");
        var audit = partitions.GetProperty("tables").EnumerateArray().Single(t => t.GetProperty("table").GetString() == "\"scaleops\".\"audit_log\"");
        var oldest = audit.GetProperty("partitions").EnumerateArray().Where(p => !p.GetProperty("isDefault").GetBoolean())
            .OrderBy(p => p.GetProperty("from").GetDateTime()).First();
        var name = oldest.GetProperty("name").GetString()!;
        var from = new DateTimeOffset(oldest.GetProperty("from").GetDateTime(), TimeSpan.Zero);
        var to = new DateTimeOffset(oldest.GetProperty("to").GetDateTime(), TimeSpan.Zero);
        Assert.True(to <= DateTimeOffset.UtcNow, $"{name} should be a past month");

        using (var seeded = await admin.PostAsJsonAsync("/ops/audit/backfill", new { tenant, at = from.AddDays(1), count = 3 }))
        {
            Assert.Equal(HttpStatusCode.Created, seeded.StatusCode);
        }

        var auditUrl = $"/audit?from={Iso(from)}&to={Iso(to)}";
        Assert.Equal(3, (await client.GetFromJsonAsync<JsonElement>(auditUrl)).GetProperty("items").GetArrayLength());

        using (var archived = await admin.PostAsync($"/ops/partitions/scaleops/audit_log/{name}/archive", null))
        {
            Assert.Equal(HttpStatusCode.OK, archived.StatusCode);
            var manifest = await archived.Content.ReadFromJsonAsync<JsonElement>();
            Assert.Equal(3, manifest.GetProperty("rows").GetInt64());
            Assert.Equal(name, manifest.GetProperty("partition").GetString());
        }

        // The manifest is read back from Blob storage, and the Parquet file is there.
        var stored = await admin.GetFromJsonAsync<JsonElement>($"/ops/partitions/scaleops/audit_log/{name}/archive");
        Assert.Equal(3, stored.GetProperty("rows").GetInt64());
        var container = new BlobContainerClient(host.Blob, host.Container);
        Assert.True((await container.GetBlobClient(stored.GetProperty("blob").GetString()).ExistsAsync()).Value);

        // The partition is gone from PostgreSQL (the audit trail drops archived partitions), and its events with it.
        var after = await admin.GetFromJsonAsync<JsonElement>("/ops/partitions");
        var names = after.GetProperty("tables").EnumerateArray().Single(t => t.GetProperty("table").GetString() == "\"scaleops\".\"audit_log\"")
            .GetProperty("partitions").EnumerateArray().Select(p => p.GetProperty("name").GetString()).ToList();
        Assert.DoesNotContain(name, names);
        Assert.Equal(0, (await client.GetFromJsonAsync<JsonElement>(auditUrl)).GetProperty("items").GetArrayLength());
    }

    [Fact]
    public async Task Archive_and_backfill_refuse_bad_input_with_problem_details()
    {
        var tenant = await host.RegisterTenantAsync("archive-bad");
        using var admin = host.Client(admin: true);
        using var anonymous = host.Client();

        await ProblemAssert.IsProblemAsync(await anonymous.PostAsync("/ops/partitions/scaleops/audit_log/audit_log_p2000_01/archive", null), HttpStatusCode.Unauthorized);
        await ProblemAssert.IsProblemAsync(await anonymous.PostAsJsonAsync("/ops/audit/backfill", new { tenant, at = DateTimeOffset.UtcNow, count = 1 }),
            HttpStatusCode.Unauthorized);
        await ProblemAssert.IsProblemAsync(await admin.PostAsync("/ops/partitions/scaleops/audit_log/audit_log_p2000_01/archive", null), HttpStatusCode.NotFound);
        await ProblemAssert.IsProblemAsync(await admin.PostAsync("/ops/partitions/scaleops/no_such_table/p1/archive", null), HttpStatusCode.NotFound);

        // The current month's partition exists but is open: a conflict (its writes would fail), not "not found".
        var current = $"audit_log_p{DateTime.UtcNow:yyyy_MM}";
        var open = await admin.PostAsync($"/ops/partitions/scaleops/audit_log/{current}/archive", null);
        await ProblemAssert.IsProblemAsync(open, HttpStatusCode.Conflict);
        await ProblemAssert.IsProblemAsync(await admin.GetAsync("/ops/partitions/scaleops/audit_log/audit_log_p2000_01/archive"), HttpStatusCode.NotFound);
        await ProblemAssert.IsProblemAsync(await admin.PostAsync($"/ops/partitions/scaleops/audit_log/{new string('p', 64)}/archive", null),
            HttpStatusCode.BadRequest);

        await ProblemAssert.IsProblemAsync(await admin.PostAsJsonAsync("/ops/audit/backfill", new { tenant, at = DateTimeOffset.UtcNow, count = 0 }),
            HttpStatusCode.BadRequest);
        await ProblemAssert.IsProblemAsync(await admin.PostAsJsonAsync("/ops/audit/backfill", new { tenant, count = 1 }), HttpStatusCode.BadRequest);
        await ProblemAssert.IsProblemAsync(await admin.PostAsJsonAsync("/ops/audit/backfill", new { tenant = "Not A Slug", at = DateTimeOffset.UtcNow, count = 1 }),
            HttpStatusCode.BadRequest);
        await ProblemAssert.IsProblemAsync(await admin.PostAsJsonAsync("/ops/audit/backfill", new { tenant = "nobody-here", at = DateTimeOffset.UtcNow, count = 1 }),
            HttpStatusCode.NotFound);
        await ProblemAssert.IsProblemAsync(
            await admin.PostAsJsonAsync("/ops/audit/backfill", new { tenant, at = new DateTimeOffset(2001, 1, 1, 0, 0, 0, TimeSpan.Zero), count = 1 }),
            HttpStatusCode.Conflict);
        // Event ids are UUIDv7s of the event time: none before the Unix epoch, and no overflow near the end of time.
        await ProblemAssert.IsProblemAsync(
            await admin.PostAsJsonAsync("/ops/audit/backfill", new { tenant, at = new DateTimeOffset(1969, 12, 31, 0, 0, 0, TimeSpan.Zero), count = 1 }),
            HttpStatusCode.BadRequest);
        await ProblemAssert.IsProblemAsync(
            await admin.PostAsJsonAsync("/ops/audit/backfill", new { tenant, at = DateTimeOffset.MaxValue, count = 2 }), HttpStatusCode.BadRequest);
    }

    [Fact]
    public async Task A_failure_other_than_a_missing_partition_is_a_500_that_quotes_nothing_and_the_log_has_the_error()
    {
        using (var admin = host.Client(admin: true))
        {
            var partitions = await admin.GetFromJsonAsync<JsonElement>("/ops/partitions");
            var closed = partitions.GetProperty("tables").EnumerateArray().Single(t => t.GetProperty("table").GetString() == "\"scaleops\".\"audit_log\"")
                .GetProperty("partitions").EnumerateArray()
                .Where(p => !p.GetProperty("isDefault").GetBoolean() && p.GetProperty("to").GetDateTime() <= DateTime.UtcNow)
                .Select(p => p.GetProperty("name").GetString()!).Order(StringComparer.Ordinal).First();

            // An instance whose archiver fails the way any dependency can: with an InvalidOperationException.
            var archiver = new ThrowingArchiver("pool-7f3a@10.1.2.3", "The connection pool-7f3a@10.1.2.3 is not open.", withManifests: false);
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
                    await client.PostAsync($"/ops/partitions/scaleops/audit_log/{closed}/archive", null), HttpStatusCode.InternalServerError);
                Assert.DoesNotContain(archiver.Secret, problem.GetRawText(), StringComparison.Ordinal);
                Assert.Contains(instance.Services.GetFakeLogCollector().GetSnapshot(), r => r.Exception?.Message == archiver.Message);

                // Not found is decided before the archiver is asked: still a 404 with this archiver.
                await ProblemAssert.IsProblemAsync(await client.PostAsync("/ops/partitions/scaleops/audit_log/audit_log_p2000_01/archive", null), HttpStatusCode.NotFound);
                await ProblemAssert.IsProblemAsync(await client.PostAsync("/ops/partitions/scaleops/no_such_table/p1/archive", null), HttpStatusCode.NotFound);
            }
            finally
            {
                await SampleHostFixture.DisposeHostAsync(instance);
            }
        }
    }

    [Fact]
    public async Task An_audit_range_with_more_events_than_a_page_says_it_was_truncated_and_where_the_next_page_starts()
    {
        var tenant = await host.RegisterTenantAsync("audit-page");
        using var admin = host.Client(admin: true);
        using var client = host.Client(tenant);
        var at = DateTimeOffset.UtcNow.AddHours(-1);
        using (var first = await admin.PostAsJsonAsync("/ops/audit/backfill", new { tenant, at, count = 1000 }))
        {
            Assert.Equal(HttpStatusCode.Created, first.StatusCode);
        }

        var url = $"/audit?from={Iso(at.AddMinutes(-1))}&to={Iso(at.AddMinutes(1))}";
        var page = await client.GetFromJsonAsync<JsonElement>(url);
        Assert.Equal(1000, page.GetProperty("items").GetArrayLength());
        Assert.False(page.GetProperty("truncated").GetBoolean());

        using (var second = await admin.PostAsJsonAsync("/ops/audit/backfill", new { tenant, at = at.AddSeconds(5), count = 1 }))
        {
            Assert.Equal(HttpStatusCode.Created, second.StatusCode);
        }

        page = await client.GetFromJsonAsync<JsonElement>(url);
        Assert.Equal(1000, page.GetProperty("items").GetArrayLength());
        Assert.True(page.GetProperty("truncated").GetBoolean());

        // A second event at the time of the backfill's second one (events 1 ms apart): the page ends between the two
        // events of that millisecond, and the next page starts right after the one shown (narrowing "to" to its time
        // would skip the other).
        using (var third = await admin.PostAsJsonAsync("/ops/audit/backfill", new { tenant, at = at.AddMilliseconds(1), count = 1 }))
        {
            Assert.Equal(HttpStatusCode.Created, third.StatusCode);
        }

        page = await client.GetFromJsonAsync<JsonElement>(url);
        var shown = page.GetProperty("items")[999].GetProperty("at").GetDateTimeOffset();
        Assert.Equal(at.AddMilliseconds(1).ToUnixTimeMilliseconds(), shown.ToUnixTimeMilliseconds());
        var next = page.GetProperty("next").GetString();
        var rest = await client.GetFromJsonAsync<JsonElement>(url + "&after=" + Uri.EscapeDataString(next!));
        Assert.Equal(
            [at.AddMilliseconds(1).ToUnixTimeMilliseconds(), at.ToUnixTimeMilliseconds()],
            rest.GetProperty("items").EnumerateArray().Select(i => i.GetProperty("at").GetDateTimeOffset().ToUnixTimeMilliseconds()));
        Assert.False(rest.GetProperty("truncated").GetBoolean());
        Assert.Equal(JsonValueKind.Null, rest.GetProperty("next").ValueKind);

        await ProblemAssert.IsProblemAsync(await client.GetAsync(url + "&after=not-a-cursor"), HttpStatusCode.BadRequest);
    }

    [Fact]
    public async Task Another_tenants_next_page_position_reads_only_the_callers_own_events()
    {
        var owner = await host.RegisterTenantAsync("audit-page-owner");
        var other = await host.RegisterTenantAsync("audit-page-other");
        using var admin = host.Client(admin: true);
        var at = DateTimeOffset.UtcNow.AddHours(-2);
        foreach (var (when, count) in new[] { (at, 1000), (at.AddSeconds(5), 1) })
        {
            using var many = await admin.PostAsJsonAsync("/ops/audit/backfill", new { tenant = owner, at = when, count });
            Assert.Equal(HttpStatusCode.Created, many.StatusCode);
        }

        using (var own = await admin.PostAsJsonAsync("/ops/audit/backfill", new { tenant = other, at = at.AddSeconds(-30), count = 1 }))
        {
            Assert.Equal(HttpStatusCode.Created, own.StatusCode);
        }

        var url = $"/audit?from={Iso(at.AddMinutes(-1))}&to={Iso(at.AddMinutes(1))}";
        using var ownerClient = host.Client(owner);
        var next = (await ownerClient.GetFromJsonAsync<JsonElement>(url)).GetProperty("next").GetString();
        Assert.NotNull(next);

        using var otherClient = host.Client(other);
        var page = await otherClient.GetFromJsonAsync<JsonElement>(url + "&after=" + Uri.EscapeDataString(next));
        Assert.Equal(
            [at.AddSeconds(-30).ToUnixTimeMilliseconds()],
            page.GetProperty("items").EnumerateArray().Select(i => i.GetProperty("at").GetDateTimeOffset().ToUnixTimeMilliseconds()));
        Assert.False(page.GetProperty("truncated").GetBoolean());
    }
}

public class ArchiveWithoutBlobTests(SampleHostFixture host) : IClassFixture<SampleHostFixture>
{
    [Fact]
    public async Task Without_blob_storage_archival_is_a_conflict_and_the_demo_endpoint_is_not_mapped()
    {
        var tenant = await host.RegisterTenantAsync("no-blob");
        using var admin = host.Client(admin: true);
        var conflict = await ProblemAssert.IsProblemAsync(
            await admin.PostAsync("/ops/partitions/scaleops/audit_log/audit_log_p2000_01/archive", null), HttpStatusCode.Conflict);
        Assert.Contains("ConnectionStrings:Blob", conflict.GetProperty("detail").GetString(), StringComparison.Ordinal);
        var restore = await ProblemAssert.IsProblemAsync(
            await admin.PostAsync("/ops/partitions/scaleops/audit_log/audit_log_p2000_01/restore", null), HttpStatusCode.Conflict);
        Assert.Contains("ConnectionStrings:Blob", restore.GetProperty("detail").GetString(), StringComparison.Ordinal);
        using var backfill = await admin.PostAsJsonAsync("/ops/audit/backfill", new { tenant, at = DateTimeOffset.UtcNow, count = 1 });
        Assert.Equal(HttpStatusCode.NotFound, backfill.StatusCode);
    }
}

/// <summary>The sample host configured with a Blob endpoint where nothing listens.</summary>
public sealed class DeadBlobSampleHostFixture : SampleHostFixture
{
    protected override void ConfigureInstance(IWebHostBuilder web) => web.UseSetting("ConnectionStrings:Blob",
        "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==;"
        + "BlobEndpoint=http://127.0.0.1:9/devstoreaccount1;");
}

public class ArchiveWithBlobDownTests(DeadBlobSampleHostFixture host) : IClassFixture<DeadBlobSampleHostFixture>
{
    [Fact]
    public async Task With_blob_storage_down_archival_is_503_and_the_partition_stays()
    {
        using var admin = host.Client(admin: true);
        var partitions = await admin.GetFromJsonAsync<JsonElement>("/ops/partitions");
        var name = partitions.GetProperty("tables").EnumerateArray().Single(t => t.GetProperty("table").GetString() == "\"scaleops\".\"audit_log\"")
            .GetProperty("partitions").EnumerateArray().Select(p => p.GetProperty("name").GetString()!).Order(StringComparer.Ordinal).First();

        // The Blob client retries (about 25 s) before the endpoint answers.
        var problem = await ProblemAssert.IsProblemAsync(await admin.PostAsync($"/ops/partitions/scaleops/audit_log/{name}/archive", null),
            HttpStatusCode.ServiceUnavailable);

        // The client's error names the storage endpoint and account: the host's log has it, the response does not.
        var detail = problem.GetProperty("detail").GetString()!;
        Assert.DoesNotContain("127.0.0.1", detail, StringComparison.Ordinal);
        Assert.DoesNotContain("devstoreaccount1", detail, StringComparison.Ordinal);
        var after = await admin.GetFromJsonAsync<JsonElement>("/ops/partitions");
        Assert.Contains(name, after.GetProperty("tables").EnumerateArray().SelectMany(t => t.GetProperty("partitions").EnumerateArray())
            .Select(p => p.GetProperty("name").GetString()));
    }
}
