using System;
using System.IO;
using System.Linq;
using System.Security.Cryptography;
using System.Text;
using System.Threading.Tasks;
using Microsoft.Extensions.DependencyInjection;
using ScaleOps.Jobs.Tests.Support;
using ScaleOps.Migrations;
using ScaleOps.TestInfrastructure;

namespace ScaleOps.Jobs.Tests;

/// <summary>
/// The Jobs migrations applied one at a time over rows that the schema and the code of each earlier version wrote (jobs
/// in every state, schedules with and without a definition), then a host of the current code over the result: every
/// migration applies on existing rows, the migrator takes the scripts applied one by one as its own, and the current
/// worker, rescuer, admin API and scheduler process every row.
/// </summary>
public class MigrationUpgradeTests(PostgresDatabase database) : IClassFixture<PostgresDatabase>
{
    private const string Queue = "upgrade";

    private async Task ExecuteAsync(string sql)
    {
        await using var command = database.DataSource.CreateCommand(sql);
        await command.ExecuteNonQueryAsync();
    }

    private async Task<T> ScalarAsync<T>(string sql)
    {
        await using var command = database.DataSource.CreateCommand(sql);
        return (T)(await command.ExecuteScalarAsync())!;
    }

    /// <summary>Applies one jobs migration and records it as the migrator does (same checksum).</summary>
    private async Task ApplyAsync(int version)
    {
        const string Prefix = "ScaleOps.Jobs.Sql.Migrations.";
        var assembly = typeof(IJobClient).Assembly;
        var resource = assembly.GetManifestResourceNames().Single(n => n.StartsWith($"{Prefix}{version:D4}_", StringComparison.Ordinal));
        using var reader = new StreamReader(assembly.GetManifestResourceStream(resource)!, Encoding.UTF8);
        var sql = reader.ReadToEnd().Replace("\r\n", "\n", StringComparison.Ordinal);
        var checksum = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(sql)));
        var name = resource[(Prefix.Length + 5)..^".sql".Length];
        await ExecuteAsync(sql.Replace("{{schema}}", "\"scaleops\"", StringComparison.Ordinal));
        await ExecuteAsync(
            $"INSERT INTO scaleops.schema_migrations (component, version, name, checksum) VALUES ('jobs', {version}, '{name}', '{checksum}')");
    }

    private Task<string> StateAsync(int n) => ScalarAsync<string>($"SELECT state FROM scaleops.jobs WHERE queue = '{Queue}' AND payload->>'n' = '{n}'");

    [Fact]
    public async Task Rows_of_every_earlier_version_survive_each_migration_and_the_current_worker_processes_them()
    {
        // Daily schedules at an hour twelve hours from now: each has a due time in the last day, and no next one during the test.
        var cron = $"0 {(DateTime.UtcNow.Hour + 12) % 24} * * *";
        await ExecuteAsync("""
            CREATE SCHEMA scaleops;
            CREATE TABLE scaleops.schema_migrations (
                component text NOT NULL, version integer NOT NULL, name text NOT NULL, checksum text NOT NULL,
                applied_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (component, version));
            """);
        await ApplyAsync(1);
        // As the first version wrote them: pending (no timeout: the default), pending with a tenant, a unique key and a
        // concurrency key after a failed attempt, running with an expired lease (attempt 1 of 3, and its last attempt),
        // dead, succeeded, cancelled; a schedule row with only its last due time.
        await ExecuteAsync($$"""
            INSERT INTO scaleops.jobs (queue, kind, tenant_id, payload, state, priority, run_at, attempt, max_attempts, timeout_ms,
                                       unique_key, concurrency_key, concurrency_limit, created_at, attempted_at, finished_at, lease_until, last_error)
            VALUES ('{{Queue}}', 'test.ping', '', '{"n":1}', 'pending', 2, now() - interval '1 day', 0, 25, NULL, NULL, NULL, NULL, now(), NULL, NULL, NULL, NULL),
                   ('{{Queue}}', 'test.ping', 'acme', '{"n":2}', 'pending', 0, now(), 1, 3, 5000, 'k2', 'ck', 1, now(), now(), NULL, NULL, 'boom'),
                   ('{{Queue}}', 'test.ping', '', '{"n":3}', 'running', 2, now(), 1, 3, 30000, 'k3', NULL, NULL, now(), now(), NULL, now() - interval '1 hour', NULL),
                   ('{{Queue}}', 'test.ping', '', '{"n":4}', 'running', 2, now(), 3, 3, 30000, NULL, NULL, NULL, now(), now(), NULL, now() - interval '1 hour', NULL),
                   ('{{Queue}}', 'test.ping', '', '{"n":5}', 'dead', 2, now(), 3, 3, 30000, 'k5', NULL, NULL, now(), now(), now(), NULL, 'dead'),
                   ('{{Queue}}', 'test.ping', '', '{"n":6}', 'succeeded', 2, now(), 1, 3, 30000, NULL, NULL, NULL, now(), now(), now(), NULL, NULL),
                   ('{{Queue}}', 'test.ping', '', '{"n":7}', 'cancelled', 2, now(), 0, 3, 30000, NULL, NULL, NULL, now(), NULL, now(), NULL, NULL);
            INSERT INTO scaleops.job_schedules (name, last_due_at) VALUES ('before-0005', now() - interval '2 days');
            """);
        await ApplyAsync(2);
        Assert.Equal(0L, await ScalarAsync<long>("SELECT count(*) FROM scaleops.jobs WHERE lease_id <> 0"));
        // Leased by the code of 0002: a running job whose lease expired, with a lease id.
        await ExecuteAsync($$"""
            INSERT INTO scaleops.jobs (queue, kind, payload, state, run_at, attempt, max_attempts, timeout_ms, created_at, attempted_at,
                                       lease_until, lease_id)
            VALUES ('{{Queue}}', 'test.ping', '{"n":8}', 'running', now(), 1, 3, 30000, now(), now(), now() - interval '1 hour', 7);
            """);
        await ApplyAsync(3);
        await ApplyAsync(4);
        await ApplyAsync(5);
        // Written by the code of 0005: a schedule with its definition, last fired two days ago.
        await ExecuteAsync($$"""
            INSERT INTO scaleops.job_schedules (name, last_due_at, cron, time_zone, defined_at)
            VALUES ('with-0005', now() - interval '2 days', '{{cron}}', 'UTC', now() - interval '3 days');
            """);
        await ApplyAsync(6);
        await ApplyAsync(7); // run_at's default (the binary COPY of jobs to run now leaves it out): no row changes
        Assert.Equal((8L, 2L), (
            await ScalarAsync<long>("SELECT count(*) FROM scaleops.jobs"), await ScalarAsync<long>("SELECT count(*) FROM scaleops.job_schedules")));

        // The migrator takes the scripts applied one by one as its own (nothing to apply, no checksum mismatch).
        var services = new ServiceCollection();
        services.AddLogging();
        services.AddScaleOps(o => o.ConnectionString = database.ConnectionString).AddJobs();
        await using (var provider = services.BuildServiceProvider())
        {
            Assert.Empty(await provider.GetRequiredService<IScaleOpsMigrator>().MigrateAsync());
        }

        await using var host = await JobsHost.StartAsync(database.ConnectionString, o =>
        {
            o.DefaultQueue = Queue;
            o.RescueInterval = TimeSpan.FromMilliseconds(100);
        }, jobs => jobs
            .AddRecurring("before-0005", cron, new Ping(100), new JobOptions { Queue = Queue })
            .AddRecurring("with-0005", cron, new Ping(101), new JobOptions { Queue = Queue }));

        // Pending jobs run; expired leases are rescued (the last attempt's job dead), then run; schedules fire once.
        await TestSignal.UntilAsync(async () => await ScalarAsync<long>(
            $"SELECT count(*) FROM scaleops.jobs WHERE queue = '{Queue}' AND state = 'succeeded'") == 7 && await StateAsync(4) == "dead",
            "the pending and rescued jobs to run and both schedules to fire");
        Assert.Equal([1, 2, 3, 8, 100, 101], host.Probe.Seen.Select(s => s.N).Order());
        Assert.Equal("acme", Assert.Single(host.Probe.Seen, s => s.N == 2).ContextTenant);
        Assert.Equal((2L, 1L), (await ScalarAsync<long>("SELECT count(*) FROM scaleops.job_schedules WHERE cron IS NOT NULL AND definition_seen_at IS NOT NULL"),
            await ScalarAsync<long>($"SELECT count(*) FROM scaleops.job_schedules WHERE name = 'before-0005' AND cron = '{cron}'")));

        // The admin API reads every row, and the dead ones are retried and run.
        Assert.Equal(10, (await host.Admin.ListAsync(new JobQuery { Queue = Queue })).Count);
        Assert.Equal(2, await host.Admin.RetryAllDeadAsync(Queue));
        await TestSignal.UntilAsync(async () => await StateAsync(4) == "succeeded" && await StateAsync(5) == "succeeded", "the retried jobs to run");
        Assert.Equal("cancelled", await StateAsync(7));
    }
}
