using System;
using System.Linq;
using System.Threading.Tasks;
using ScaleOps.Jobs.Tests.Support;
using ScaleOps.Tenancy;
using ScaleOps.TestInfrastructure;

namespace ScaleOps.Jobs.Tests;

/// <summary>
/// Jobs stored under a tenant id that an earlier version's <see cref="TenantId"/> accepted and the current one refuses
/// (since the fix that refuses invisible default-ignorable code points, <c>acme</c> + U+034F).
/// </summary>
public class StoredTenantTests(JobsDatabase database) : IClassFixture<JobsDatabase>
{
    private const string Queue = "old-tenant";
    private const string OldTenant = "acme\u034F";

    [Fact]
    public async Task A_job_stored_under_a_tenant_id_the_current_rules_refuse_is_listed_and_dead_at_once_with_a_message_naming_it()
    {
        Assert.Throws<ArgumentException>(() => new TenantId(OldTenant));
        var bad = await database.ScalarAsync<long>(
            "INSERT INTO scaleops.jobs (queue, kind, tenant_id, payload, run_at, max_attempts, created_at) "
            + $"VALUES ('{Queue}', 'test.ping', 'acme' || U&'\\034F', '{{\"n\":1}}', now(), 3, now()) RETURNING id");
        Assert.Equal(OldTenant, await database.ScalarAsync<string>($"SELECT tenant_id FROM scaleops.jobs WHERE id = {bad}"));

        await using var host = await JobsHost.StartAsync(database.ConnectionString, o => o.DefaultQueue = Queue);
        var good = (await host.Client.EnqueueAsync(new Ping(2), new JobOptions { Tenant = new TenantId("acme") }))!.Value;
        await TestSignal.UntilAsync(async () => await database.ScalarAsync<string>($"SELECT state FROM scaleops.jobs WHERE id = {bad}") == "dead"
            && await database.ScalarAsync<string>($"SELECT state FROM scaleops.jobs WHERE id = {good}") == "succeeded", "the jobs to end");

        // Retrying cannot help (no tenant scope can be made for it): dead after its first attempt, the handler never called.
        Assert.Equal(1, await database.ScalarAsync<int>($"SELECT attempt FROM scaleops.jobs WHERE id = {bad}"));
        Assert.Equal([2], host.Probe.Seen.Select(s => s.N));
        var error = await database.ScalarAsync<string>($"SELECT last_error FROM scaleops.jobs WHERE id = {bad}");
        Assert.Contains("is not a valid TenantId", error, StringComparison.Ordinal);
        Assert.Contains("U+034F", error, StringComparison.Ordinal);

        // The admin API lists and reads it (a listing that met it threw the TenantId's ArgumentException).
        var listed = await host.Admin.ListAsync(new JobQuery { Queue = Queue });
        Assert.Equal([bad, good], listed.Select(j => j.Id).Order());
        var info = (await host.Admin.GetAsync(bad))!;
        Assert.Equal(JobState.Dead, info.State);
        Assert.Equal((null, OldTenant), (info.Tenant, info.StoredTenantId));
        var goodInfo = (await host.Admin.GetAsync(good))!;
        Assert.Equal((new TenantId("acme"), "acme"), (goodInfo.Tenant, goodInfo.StoredTenantId));
    }
}
