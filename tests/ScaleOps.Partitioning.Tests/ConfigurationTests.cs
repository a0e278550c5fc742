using System;
using System.Collections.Generic;
using System.Linq;
using System.Text.Json;
using System.Threading.Channels;
using System.Threading.Tasks;
using Azure.Storage.Blobs;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging.Testing;
using Microsoft.Extensions.Time.Testing;
using Parquet;
using ScaleOps.Partitioning.Archive;
using ScaleOps.Partitioning.Audit;
using ScaleOps.Partitioning.Lifecycle;
using ScaleOps.Tenancy;
using ScaleOps.TestInfrastructure;

namespace ScaleOps.Partitioning.Tests;

/// <summary>
/// Every setting of the README's option table, set with its configuration key (appsettings, not code), takes effect
/// in a running host: the table's schema, interval, premake, retention and its mode, archive and index templates; the
/// schedule, the DDL's lock timeout and attempts; the blob storage, its container and row groups; the plan cache
/// mode and role; the audit trail's interval, premake, retention and batch size.
/// </summary>
public class ConfigurationTests(PostgresDatabase database) : IClassFixture<PostgresDatabase>
{
    private const string Schema = "cfg-s";
    private const string Table = "Cfg Events";
    private const string Qualified = "\"cfg-s\".\"Cfg Events\"";

    [Fact]
    public async Task Every_setting_bound_from_configuration_keys_drives_maintenance_archive_and_the_audit_trail()
    {
        var blob = await TcpServer.BlobAsync();
        var container = "cfg-" + Guid.NewGuid().ToString("N");
        await database.DataSource.ExecAsync(
            $"CREATE SCHEMA \"{Schema}\"; CREATE TABLE {Qualified} (id bigint NOT NULL, created_at timestamptz NOT NULL, body text) PARTITION BY RANGE (created_at);"
            + "DO $$ BEGIN CREATE ROLE so_cfg_plan NOLOGIN; EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$;"
            // Each ALTER TABLE records the lock_timeout it ran under.
            + "CREATE TABLE public.ddl_settings (object text, lock_timeout text);"
            + "CREATE FUNCTION public.ddl_settings() RETURNS event_trigger LANGUAGE plpgsql AS $$ BEGIN "
            + "INSERT INTO public.ddl_settings SELECT object_identity, current_setting('lock_timeout') FROM pg_event_trigger_ddl_commands(); END $$;"
            + "CREATE EVENT TRIGGER ddl_settings ON ddl_command_end WHEN TAG IN ('ALTER TABLE') EXECUTE FUNCTION public.ddl_settings()");
        const string P = "ScaleOps:Partitioning:";
        var settings = new Dictionary<string, string?>
        {
            [P + "Tables:0:Schema"] = Schema,
            [P + "Tables:0:Name"] = Table,
            [P + "Tables:0:Column"] = "created_at",
            [P + "Tables:0:Interval"] = "Week",
            [P + "Tables:0:Premake"] = "2",
            [P + "Tables:0:Retention"] = "3",
            [P + "Tables:0:RetentionMode"] = "Detach",
            [P + "Tables:0:Archive"] = "true",
            [P + "Tables:0:Indexes:0:Suffix"] = "brin",
            [P + "Tables:0:Indexes:0:Columns:0"] = "created_at",
            [P + "Tables:0:Indexes:0:Brin"] = "true",
            [P + "RunMaintenanceOnStart"] = "true",
            [P + "MaintenanceInterval"] = "00:00:01",
            [P + "LockTimeout"] = "00:00:00.250",
            [P + "DdlAttempts"] = "2",
            [P + "DdlRetryDelay"] = "00:00:00",
            [P + "BlobConnectionString"] = blob,
            [P + "ArchiveContainer"] = container,
            [P + "ArchiveRowGroupSize"] = "100",
            [P + "PlanCacheMode"] = "force_custom_plan",
            [P + "PlanCacheRole"] = "so_cfg_plan",
            [P + "Audit:Enabled"] = "true",
            [P + "Audit:Interval"] = "Day",
            [P + "Audit:Premake"] = "2",
            [P + "Audit:Retention"] = "4",
            [P + "Audit:BatchSize"] = "3",
            [P + "Audit:FlushInterval"] = "00:01:00",
            [P + "Audit:Capacity"] = "50",
        };
        var time = new FakeTimeProvider(TestHost.Monday); // 2026-11-23, ISO week 48
        using var host = TestHost.Build(database.ConnectionString, _ => { }, time, "so_cfg", s => s.AddFakeLogging(), settings);
        var runs = Channel.CreateUnbounded<bool>();
        host.Services.GetServices<IHostedService>().OfType<Internal.MaintenanceHostedService>().Single().Ran += () => runs.Writer.TryWrite(true);
        await host.StartAsync();

        // The start ran maintenance: weekly partitions, two back (an empty table), the current week and two ahead, each
        // with the BRIN template; the audit trail's partitions are daily, two each side.
        Assert.Equal(["Cfg Events_p2026w46", "Cfg Events_p2026w47", "Cfg Events_p2026w48", "Cfg Events_p2026w49", "Cfg Events_p2026w50"],
            (await database.DataSource.PartitionsAsync(Qualified)).Select(p => p[..p.IndexOf(" FOR", StringComparison.Ordinal)]));
        Assert.Contains("USING brin (created_at)", await database.DataSource.ScalarAsync<string>(
            $"SELECT indexdef FROM pg_indexes WHERE schemaname = '{Schema}' AND indexname = 'Cfg Events_p2026w48_brin'"), StringComparison.Ordinal);
        Assert.Equal(["audit_log_p2026_11_21", "audit_log_p2026_11_22", "audit_log_p2026_11_23", "audit_log_p2026_11_24", "audit_log_p2026_11_25"],
            (await database.DataSource.PartitionsAsync("so_cfg.audit_log")).Select(p => p[..p.IndexOf(' ', StringComparison.Ordinal)]));
        var timeouts = await database.DataSource.ColumnAsync($"SELECT DISTINCT lock_timeout FROM public.ddl_settings WHERE object = '{Qualified}'");
        Assert.Equal(["250ms"], timeouts);
        Assert.Equal("{plan_cache_mode=force_custom_plan}", await database.DataSource.ScalarAsync<string>(
            "SELECT setconfig::text FROM pg_db_role_setting s JOIN pg_database d ON d.oid = s.setdatabase "
            + $"WHERE d.datname = '{database.Name}' AND s.setrole = 'so_cfg_plan'::regrole"));

        // Audit:BatchSize = 3: three events are written at once, with the flush interval (a minute of fake time) not up.
        var audit = host.Services.GetRequiredService<IAuditLog>();
        using (host.Services.GetRequiredService<ITenantContext>().BeginScope(new TenantId("acme")))
        {
            for (var i = 0; i < 3; i++)
            {
                await audit.WriteAsync(new AuditEntry { Action = "cfg.test", EntityType = "doc", Changes = JsonSerializer.SerializeToElement(i) });
            }
        }

        await TestSignal.UntilAsync(async () => await database.DataSource.ScalarAsync<long>("SELECT count(*) FROM so_cfg.audit_log") == 3,
            "a full batch of three audit events");

        // MaintenanceInterval = 1 s (the default is an hour): one second of fake time is a scheduled run.
        time.Advance(TimeSpan.FromSeconds(1));
        await runs.Reader.ReadAsync().AsTask().WaitAsync("the scheduled run one second after the start");

        // Rows in weeks 46 (250 rows) and 47, then five weeks on: Retention = 3 weeks archives, then detaches (kept as
        // tables), weeks 46 to 49; the next run creates week 53 and two ahead.
        await database.DataSource.ExecAsync(
            $"INSERT INTO {Qualified} SELECT g, timestamptz '2026-11-09' + g * interval '1 minute', 'row ' || g FROM generate_series(1, 250) g;"
            + $"INSERT INTO {Qualified} VALUES (1000, '2026-11-17', 'week 47')");
        time.Advance(TimeSpan.FromDays(35)); // 2026-12-28, ISO week 53
        await runs.Reader.ReadAsync().AsTask().WaitAsync("the scheduled run five weeks on");
        Assert.Equal(["Cfg Events_p2026w50", "Cfg Events_p2026w53", "Cfg Events_p2027w01", "Cfg Events_p2027w02"],
            (await database.DataSource.PartitionsAsync(Qualified)).Select(p => p[..p.IndexOf(" FOR", StringComparison.Ordinal)]));
        Assert.Equal(250L, await database.DataSource.ScalarAsync<long>($"SELECT count(*) FROM \"{Schema}\".\"Cfg Events_p2026w46\""));
        Assert.Equal(1L, await database.DataSource.ScalarAsync<long>($"SELECT count(*) FROM \"{Schema}\".\"Cfg Events_p2026w47\""));

        var archiver = host.Services.GetRequiredService<IPartitionArchiver>();
        var manifest = await archiver.GetManifestAsync(Schema, Table, "Cfg Events_p2026w46");
        Assert.Equal(250L, manifest!.Rows);
        await using (var stream = await new BlobContainerClient(blob, container).GetBlobClient(manifest.Blob).OpenReadAsync())
        await using (var reader = await ParquetReader.CreateAsync(stream))
        {
            Assert.Equal(3, reader.RowGroupCount); // ArchiveRowGroupSize = 100
        }

        Assert.Equal(0L, (await archiver.GetManifestAsync(Schema, Table, "Cfg Events_p2026w49"))!.Rows);

        // Audit:Retention = 4 days dropped the November days; Audit:Premake = 2 made two days ahead.
        var auditPartitions = await database.DataSource.PartitionsAsync("so_cfg.audit_log");
        Assert.DoesNotContain(auditPartitions, p => p.StartsWith("audit_log_p2026_11_", StringComparison.Ordinal));
        Assert.Contains(auditPartitions, p => p.StartsWith("audit_log_p2026_12_30 ", StringComparison.Ordinal));
        Assert.DoesNotContain(auditPartitions, p => p.StartsWith("audit_log_p2026_12_31 ", StringComparison.Ordinal));

        // DdlAttempts = 2, no delay: with the parent locked (not its partitions, which the archive reads), a create gives
        // up after its second attempt, one retry logged.
        await host.StopAsync();
        var logs = host.Services.GetFakeLogCollector();
        logs.Clear();
        await using var connection = await database.DataSource.OpenConnectionAsync();
        await using var transaction = await connection.BeginTransactionAsync();
        await using (var hold = new Npgsql.NpgsqlCommand($"LOCK TABLE ONLY {Qualified} IN ACCESS EXCLUSIVE MODE", connection, transaction))
        {
            await hold.ExecuteNonQueryAsync();
        }

        time.Advance(TimeSpan.FromDays(7)); // week 2027w03 is due
        var run = await host.Services.GetRequiredService<IPartitionMaintenance>().RunMaintenanceAsync().WaitAsync("a run against a locked table");
        await transaction.RollbackAsync();
        var failure = Assert.Single(run.Failures, f => f.Action?.Kind == PartitionActionKind.Create);
        Assert.Equal("Cfg Events_p2027w03", failure.Action!.Partition);
        Assert.Equal("55P03", Assert.IsType<Npgsql.PostgresException>(failure.Error).SqlState);
        var retried = Assert.Single(logs.GetSnapshot(), r => r.Id.Id == 4004 && r.Message.Contains("create Cfg Events_p2027w03", StringComparison.Ordinal));
        Assert.Contains("(attempt 1 of 2)", retried.Message, StringComparison.Ordinal);
        await database.DataSource.ExecAsync("DROP EVENT TRIGGER ddl_settings");
    }
}
