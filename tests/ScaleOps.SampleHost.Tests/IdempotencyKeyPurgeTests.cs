using System;
using System.Net;
using System.Net.Http;
using System.Net.Http.Json;
using System.Threading;
using System.Threading.Tasks;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using ScaleOps.Data;
using ScaleOps.Jobs;
using ScaleOps.SampleHost.Documents;
using ScaleOps.Tenancy;
using ScaleOps.TestInfrastructure;

namespace ScaleOps.SampleHost.Tests;

/// <summary>
/// Expired <c>Idempotency-Key</c> rows are deleted for every tenant by a recurring job, also for a tenant that sends no
/// more keys (before, only the tenant's own next create with a key deleted them, so a quiet tenant's stayed forever).
/// </summary>
public class IdempotencyKeyPurgeTests(SampleHostFixture host) : IClassFixture<SampleHostFixture>
{
    private static readonly TimeSpan Day = TimeSpan.FromHours(24);

    private async Task CreateWithKeyAsync(string tenant, string key)
    {
        using var client = host.Client(tenant);
        using var request = new HttpRequestMessage(HttpMethod.Post, "/documents") { Content = JsonContent.Create(new { title = key, body = "b" }) };
        request.Headers.Add("Idempotency-Key", key);
        using var response = await client.SendAsync(request);
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
    }

    private async Task<string> KeysAsync(string tenant)
    {
        await using var command = host.DataSource.CreateCommand(
            "SELECT coalesce(string_agg(key, ',' ORDER BY key), '') FROM app.idempotency_keys WHERE tenant_id = $1");
        command.Parameters.AddWithValue(tenant);
        return (string)(await command.ExecuteScalarAsync())!;
    }

    /// <summary>A purge on the host's own services, with a shorter retention and smaller bounds.</summary>
    private IdempotencyKeyPurge Purge(TimeSpan retention, int batchSize = 1_000, int statementsPerRun = 2_000, int tenantsPerRun = 1_000)
    {
        var services = host.Factory.Services;
        return new IdempotencyKeyPurge(
            services.GetRequiredService<NpgsqlDataSource>(), services.GetRequiredService<ITenantDataSource>(), services.GetRequiredService<ITenantContext>())
        {
            Retention = retention,
            BatchSize = batchSize,
            StatementsPerRun = statementsPerRun,
            TenantsPerRun = tenantsPerRun,
        };
    }

    [Fact]
    public async Task The_recurring_purge_deletes_a_quiet_tenants_expired_keys_and_keeps_keys_inside_the_window()
    {
        var quiet = await host.RegisterTenantAsync("purge-quiet");
        var other = await host.RegisterTenantAsync("purge-other");
        await CreateWithKeyAsync(quiet, "expired");
        await CreateWithKeyAsync(quiet, "almost");
        await CreateWithKeyAsync(quiet, "fresh");
        await CreateWithKeyAsync(other, "expired"); // the same value, another tenant's key, fresh
        await host.AgeIdempotencyKeyAsync(quiet, "expired", Day + TimeSpan.FromMinutes(1));
        await host.AgeIdempotencyKeyAsync(quiet, "almost", Day - TimeSpan.FromMinutes(1));

        // The host registers the schedule at start (its row holds the timetable).
        await using (var schedule = host.DataSource.CreateCommand("SELECT cron FROM scaleops.job_schedules WHERE name = $1"))
        {
            schedule.Parameters.AddWithValue(IdempotencyKeyPurge.ScheduleName);
            Assert.True(await schedule.ExecuteScalarAsync() is string, $"no recurring schedule '{IdempotencyKeyPurge.ScheduleName}' is registered");
        }

        // One run, enqueued as the schedule enqueues it (its unique key aside), worked by the fixture's host. No keyed create
        // by the quiet tenant happens meanwhile.
        var services = host.Factory.Services;
        var id = await services.GetRequiredService<IJobClient>().EnqueueAsync(new PurgeIdempotencyKeys(), new JobOptions { Queue = IdempotencyKeyPurge.Queue });
        var admin = services.GetRequiredService<IJobAdmin>();
        JobInfo? job = null;
        await TestSignal.UntilAsync(
            async () => (job = await admin.GetAsync(id!.Value)) is { State: JobState.Succeeded or JobState.Dead },
            $"the purge job {id} to finish");
        Assert.True(job!.State == JobState.Succeeded, $"the purge job ended {job.State}: {job.LastError}");

        Assert.Equal("almost,fresh", await KeysAsync(quiet));
        Assert.Equal("expired", await KeysAsync(other));
    }

    [Fact]
    public async Task A_run_is_bounded_and_the_next_run_goes_on_where_it_stopped()
    {
        // Tenants whose ids sort after every other tenant of this class, so the runs below see only them. Their keys are
        // 2 hours old and the purges' retention 1 hour: the hourly schedule (24 hours) leaves them alone.
        string[] tenants = ["purge-zz-a", "purge-zz-b", "purge-zz-c"];
        foreach (var tenant in tenants)
        {
            await host.RegisterTenantAsync(tenant);
        }

        foreach (var (tenant, key) in new[] { (0, "a1"), (0, "a2"), (0, "a3"), (0, "a4"), (0, "a5"), (1, "b1"), (1, "b-young"), (2, "c1") })
        {
            await CreateWithKeyAsync(tenants[tenant], key);
            await host.AgeIdempotencyKeyAsync(tenants[tenant], key, key.EndsWith("young", StringComparison.Ordinal) ? TimeSpan.FromMinutes(30) : TimeSpan.FromHours(2));
        }

        // Batches of 2, 3 statements a run: a's 5 keys take all 3 (2 + 2 + 1); b is next.
        var purge = Purge(TimeSpan.FromHours(1), batchSize: 2, statementsPerRun: 3, tenantsPerRun: 2);
        Assert.Equal(new KeyPurgeResult(1, 5, "purge-zz-b"), await purge.PurgeAsync("purge-zz-a", CancellationToken.None));
        Assert.Equal("", await KeysAsync(tenants[0]));
        Assert.Equal("b-young,b1", await KeysAsync(tenants[1]));
        Assert.Equal("c1", await KeysAsync(tenants[2]));

        // With one statement of one row a run, b's full batch leaves b unfinished: the next run starts with it again.
        var small = Purge(TimeSpan.FromHours(1), batchSize: 1, statementsPerRun: 1, tenantsPerRun: 2);
        Assert.Equal(new KeyPurgeResult(0, 1, "purge-zz-b"), await small.PurgeAsync("purge-zz-b", CancellationToken.None));
        Assert.Equal("b-young", await KeysAsync(tenants[1]));

        // The rest: b has nothing expired left, c's key goes, and no tenant is left after c.
        Assert.Equal(new KeyPurgeResult(2, 1, null), await purge.PurgeAsync("purge-zz-b", CancellationToken.None));
        Assert.Equal("b-young", await KeysAsync(tenants[1]));
        Assert.Equal("", await KeysAsync(tenants[2]));
    }

    [Fact]
    public async Task A_key_a_create_holds_is_skipped_not_waited_for_and_deleted_by_a_later_run()
    {
        var tenant = await host.RegisterTenantAsync("purge-locked");
        await CreateWithKeyAsync(tenant, "held");
        await CreateWithKeyAsync(tenant, "free");
        await host.AgeIdempotencyKeyAsync(tenant, "held", TimeSpan.FromHours(2));
        await host.AgeIdempotencyKeyAsync(tenant, "free", TimeSpan.FromHours(2));
        var purge = Purge(TimeSpan.FromHours(1), tenantsPerRun: 1);

        await using (var connection = await host.DataSource.OpenConnectionAsync())
        await using (var tx = await connection.BeginTransactionAsync())
        {
            // What a create taking the expired key over holds until it commits: the row's lock.
            await using (var hold = new NpgsqlCommand("SELECT 1 FROM app.idempotency_keys WHERE tenant_id = $1 AND key = 'held' FOR UPDATE", connection, tx))
            {
                hold.Parameters.AddWithValue(tenant);
                Assert.Equal(1, await hold.ExecuteScalarAsync());
            }

            // A purge that waited for the lock would never return before the rollback below: the bound turns that into a failure.
            using var bound = new CancellationTokenSource(TestSignal.DefaultTimeout);
            var run = await purge.PurgeAsync(tenant, bound.Token);
            Assert.Equal((1, 1L), (run.Tenants, run.Deleted));
            Assert.Equal("held", await KeysAsync(tenant));
            await tx.RollbackAsync();
        }

        Assert.Equal(1, (await purge.PurgeAsync(tenant, CancellationToken.None)).Deleted);
        Assert.Equal("", await KeysAsync(tenant));
    }
}
