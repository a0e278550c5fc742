using System;
using System.Linq;
using System.Net;
using System.Text.Json;
using System.Threading.Tasks;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Time.Testing;
using Npgsql;
using ScaleOps.Partitioning.Audit;
using ScaleOps.Tenancy;
using ScaleOps.TestInfrastructure;

namespace ScaleOps.Partitioning.Tests.Audit;

public partial class AuditLogTests(PostgresDatabase database) : IClassFixture<PostgresDatabase>
{
    private async Task<(IHost Host, IAuditLog Audit, ITenantContext Tenants, FakeTimeProvider Time)> StartAsync(string schema, Action<AuditOptions>? audit = null,
        Action<Microsoft.Extensions.DependencyInjection.IServiceCollection>? services = null)
    {
        var time = new FakeTimeProvider(TestHost.Monday);
        var host = TestHost.Build(database.ConnectionString, o =>
        {
            o.MaintenanceInterval = TimeSpan.Zero;
            audit?.Invoke(o.Audit);
        }, time, schema, services);
        await host.StartAsync();
        return (host, host.Services.GetRequiredService<IAuditLog>(), host.Services.GetRequiredService<ITenantContext>(), time);
    }

    private static AuditEntry Entry(string action, string? entityId = null) => new()
    {
        Action = action,
        EntityType = "document",
        EntityId = entityId,
        IpAddress = IPAddress.Parse("203.0.113.7"),
        UserAgent = "tests/1.0",
        Changes = JsonSerializer.SerializeToElement(new { title = new[] { "old", "new" } }),
        Metadata = JsonSerializer.SerializeToElement(new { requestId = "r-1" }),
    };

    [Fact]
    public async Task Events_are_written_in_batches_and_read_back_per_tenant_and_range()
    {
        var (host, audit, tenants, time) = await StartAsync("audit_rw", a => a.BatchSize = 7);
        using var _ = host;
        Guid firstId;
        using (tenants.BeginScope(new TenantId("acme"), userId: "alice"))
        {
            firstId = await audit.WriteAsync(Entry("document.created", "d1"));
            for (var i = 0; i < 20; i++)
            {
                time.Advance(TimeSpan.FromMinutes(1));
                await audit.WriteAsync(Entry("document.updated", "d1"));
            }
        }

        using (tenants.BeginScope(new TenantId("globex")))
        {
            await audit.WriteAsync(Entry("document.created", "g1"));
        }

        await audit.FlushAsync().WaitAsync("the audit flush");
        Assert.Equal(22L, await database.DataSource.ScalarAsync<long>("SELECT count(*) FROM audit_rw.audit_log"));

        using (tenants.BeginScope(new TenantId("acme")))
        {
            var all = await audit.QueryAsync(TestHost.Monday, TestHost.Monday.AddDays(1), limit: 100);
            Assert.Equal(21, all.Count);
            Assert.All(all, r => Assert.Equal("acme", r.Tenant));
            Assert.True(all.Zip(all.Skip(1)).All(p => p.First.OccurredAt >= p.Second.OccurredAt), "newest first");
            var first = all[^1];
            Assert.Equal(firstId, first.Id);
            Assert.Equal("alice", first.Actor);
            Assert.Equal(IPAddress.Parse("203.0.113.7"), first.IpAddress);
            Assert.Equal("tests/1.0", first.UserAgent);
            Assert.Equal("new", first.Changes!.Value.GetProperty("title")[1].GetString());
            Assert.Equal("r-1", first.Metadata!.Value.GetProperty("requestId").GetString());

            var range = await audit.QueryAsync(TestHost.Monday.AddMinutes(5), TestHost.Monday.AddMinutes(10));
            Assert.Equal(5, range.Count);
            Assert.Equal(3, (await audit.QueryAsync(TestHost.Monday, TestHost.Monday.AddDays(1), limit: 3)).Count);

            var found = await audit.FindAsync(firstId);
            Assert.Equal("document.created", found!.Action);
        }

        using (tenants.BeginScope(new TenantId("globex")))
        {
            Assert.Single(await audit.QueryAsync(TestHost.Monday, TestHost.Monday.AddDays(1)));
            Assert.Null(await audit.FindAsync(firstId)); // another tenant's event is invisible
        }

        await host.StopAsync();
    }

    [Fact]
    public async Task The_range_query_reads_only_the_partitions_of_the_range()
    {
        var (host, _, _, _) = await StartAsync("audit_prune");
        using var _ = host;
        await using var connection = await database.DataSource.OpenConnectionAsync();
        await using (var generic = new NpgsqlCommand("SET plan_cache_mode = force_generic_plan", connection))
        {
            await generic.ExecuteNonQueryAsync();
        }

        await using var explain = new NpgsqlCommand(
            "EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) " + Internal.Sql.WithSchema(Internal.Sql.AuditQuery, "audit_prune"), connection);
        explain.Parameters.Add(new NpgsqlParameter<string> { TypedValue = "acme" });
        explain.Parameters.Add(new NpgsqlParameter<DateTime> { TypedValue = new DateTime(2026, 11, 2, 0, 0, 0, DateTimeKind.Utc) });
        explain.Parameters.Add(new NpgsqlParameter<DateTime> { TypedValue = new DateTime(2026, 11, 20, 0, 0, 0, DateTimeKind.Utc) });
        explain.Parameters.Add(new NpgsqlParameter<int> { TypedValue = 10 });
        explain.Parameters.Add(new NpgsqlParameter { Value = DBNull.Value, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Uuid }); // no position
        explain.Parameters.Add(new NpgsqlParameter { Value = DBNull.Value, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.TimestampTz });
        await explain.PrepareAsync();
        var plan = string.Join("\n", await ReadAllAsync(explain));
        Assert.Contains("audit_log_p2026_11", plan, StringComparison.Ordinal);
        Assert.DoesNotContain("audit_log_p2026_12", plan, StringComparison.Ordinal);
        Assert.DoesNotContain("audit_log_p2026_10", plan, StringComparison.Ordinal);
        await host.StopAsync();
    }

    [Fact]
    public async Task PartitionsReadAsync_names_the_partitions_the_range_query_reads()
    {
        var (host, audit, tenants, time) = await StartAsync("audit_read");
        using var _ = host;
        using (tenants.BeginScope(new TenantId("acme")))
        {
            await audit.WriteAsync(Entry("document.created", "d1")); // 2026-11-23
            time.Advance(TimeSpan.FromDays(10));
            await audit.WriteAsync(Entry("document.updated", "d1")); // 2026-12-03
            await audit.FlushAsync().WaitAsync("the audit flush");

            var november = new DateTimeOffset(2026, 11, 1, 0, 0, 0, TimeSpan.Zero);
            Assert.Equal(["audit_log_p2026_11"], await audit.PartitionsReadAsync(november, november.AddMonths(1)));
            Assert.Equal(
                ["audit_log_p2026_11", "audit_log_p2026_12"],
                await audit.PartitionsReadAsync(november.AddDays(14), november.AddMonths(1).AddDays(14)));
            Assert.Empty(await audit.PartitionsReadAsync(november, november));
        }

        await Assert.ThrowsAsync<TenantRequiredException>(() => audit.PartitionsReadAsync(TestHost.Monday, TestHost.Monday.AddDays(1)));
        await host.StopAsync();
    }

    [Fact]
    public async Task Audit_queries_run_as_prepared_statements_that_reuse_one_generic_plan()
    {
        var (writer, audit, tenants, _) = await StartAsync("audit_plan");
        Guid id;
        using (writer)
        {
            using (tenants.BeginScope(new TenantId("acme")))
            {
                id = await audit.WriteAsync(Entry("document.created", "d1"));
            }

            await writer.StopAsync();
        }

        // A second host, not started (queries need no background service), on one pooled connection: the statements
        // its queries prepare are then visible to the check below on the same session.
        using var host = TestHost.Build(database.ConnectionString + ";Maximum Pool Size=1", o => o.MaintenanceInterval = TimeSpan.Zero, null, "audit_plan");
        audit = host.Services.GetRequiredService<IAuditLog>();
        using (host.Services.GetRequiredService<ITenantContext>().BeginScope(new TenantId("acme")))
        {
            for (var i = 0; i < 3; i++)
            {
                Assert.Single(await audit.QueryAsync(TestHost.Monday.AddDays(-1), TestHost.Monday.AddDays(1)));
                Assert.NotNull(await audit.FindAsync(id));
            }
        }

        // An unprepared statement under force_generic_plan would be planned anew, over every partition, on each call.
        await using var command = host.Services.GetRequiredService<NpgsqlDataSource>().CreateCommand(
            "SELECT statement LIKE '%LIMIT $4%', generic_plans, custom_plans FROM pg_prepared_statements WHERE statement LIKE '%audit_log%' ORDER BY 1");
        await using var reader = await command.ExecuteReaderAsync();
        var plans = new System.Collections.Generic.List<(bool Query, long Generic, long Custom)>();
        while (await reader.ReadAsync())
        {
            plans.Add((reader.GetBoolean(0), reader.GetInt64(1), reader.GetInt64(2)));
        }

        Assert.Equal([(false, 3L, 0L), (true, 3L, 0L)], plans); // FindAsync's and QueryAsync's statements, 3 generic executions each
    }

    [Fact]
    public async Task A_partial_batch_is_written_when_its_flush_interval_has_passed()
    {
        var (host, audit, tenants, time) = await StartAsync("audit_timer", a => { a.BatchSize = 100; a.FlushInterval = TimeSpan.FromSeconds(2); });
        using var _ = host;
        using (tenants.BeginScope(new TenantId("acme")))
        {
            for (var i = 0; i < 3; i++)
            {
                await audit.WriteAsync(Entry("timed"));
            }
        }

        Assert.Equal(0L, await database.DataSource.ScalarAsync<long>("SELECT count(*) FROM audit_timer.audit_log"));
        await TestSignal.UntilAsync(async () =>
        {
            time.Advance(TimeSpan.FromSeconds(2));
            return await database.DataSource.ScalarAsync<long>("SELECT count(*) FROM audit_timer.audit_log") == 3;
        }, "the partial batch to be written after its flush interval");
        await host.StopAsync();
    }

    [Fact]
    public async Task Stopping_the_host_flushes_every_queued_event()
    {
        var (host, audit, tenants, _) = await StartAsync("audit_stop", a => { a.BatchSize = 100; a.FlushInterval = TimeSpan.FromMinutes(1); });
        using (tenants.BeginScope(new TenantId("acme")))
        {
            for (var i = 0; i < 1_050; i++)
            {
                await audit.WriteAsync(Entry("bulk", i.ToString(System.Globalization.CultureInfo.InvariantCulture)));
            }
        }

        await host.StopAsync().WaitAsync("the host to stop");
        host.Dispose();
        Assert.Equal(1_050L, await database.DataSource.ScalarAsync<long>("SELECT count(*) FROM audit_stop.audit_log"));
        Assert.Equal(1_050L, await database.DataSource.ScalarAsync<long>("SELECT count(DISTINCT entity_id) FROM audit_stop.audit_log"));
    }

    [Fact]
    public async Task The_writer_drains_what_was_queued_even_when_its_start_was_cancelled()
    {
        // A first host applies the migrations and creates the partitions; a second one on the same schema then starts
        // only its writer, with a start token that is already cancelled (a host told to stop while it was starting).
        // A BackgroundService would never run its loop then (.NET 10 starts ExecuteAsync through Task.Run with that
        // token, and a stop that comes before the thread pool runs it has the same effect): the event would be lost.
        var (first, _, _, _) = await StartAsync("audit_cancelled_start");
        await first.StopAsync();
        first.Dispose();

        using var host = TestHost.Build(database.ConnectionString, o => o.MaintenanceInterval = TimeSpan.Zero, null, "audit_cancelled_start");
        var writer = host.Services.GetServices<IHostedService>().OfType<ScaleOps.Partitioning.Internal.AuditWriter>().Single();
        await writer.StartAsync(new System.Threading.CancellationToken(canceled: true));
        using (host.Services.GetRequiredService<ITenantContext>().BeginScope(new TenantId("acme")))
        {
            await host.Services.GetRequiredService<IAuditLog>().WriteAsync(Entry("document.created", "d1"));
        }

        await writer.StoppedAsync(System.Threading.CancellationToken.None).WaitAsync("the writer to drain and stop");
        Assert.Equal(1L, await database.DataSource.ScalarAsync<long>("SELECT count(*) FROM audit_cancelled_start.audit_log"));
    }

    [Fact]
    public async Task A_full_queue_makes_writers_wait_while_PostgreSQL_is_blocked_and_nothing_is_lost()
    {
        var (host, audit, tenants, _) = await StartAsync("audit_pressure", a => { a.Capacity = 5; a.BatchSize = 3; });
        using var _ = host;
        await using var blocker = await database.DataSource.OpenConnectionAsync();
        await using var blockTx = await blocker.BeginTransactionAsync();
        await using (var lockTable = new NpgsqlCommand("LOCK TABLE audit_pressure.audit_log IN ACCESS EXCLUSIVE MODE", blocker, blockTx))
        {
            await lockTable.ExecuteNonQueryAsync();
        }

        using var scope = tenants.BeginScope(new TenantId("acme"));
        for (var i = 0; i < 8; i++) // 3 taken by the blocked COPY + 5 queued
        {
            await audit.WriteAsync(Entry("pressure")).AsTask().WaitAsync("room in the queue");
        }

        var waiting = audit.WriteAsync(Entry("pressure")).AsTask();
        Assert.False(waiting.IsCompleted, "the ninth write must wait for room");

        await blockTx.RollbackAsync();
        await waiting.WaitAsync("the waiting write once PostgreSQL is free");
        await audit.FlushAsync().WaitAsync("the flush");
        Assert.Equal(9L, await database.DataSource.ScalarAsync<long>("SELECT count(*) FROM audit_pressure.audit_log"));
        await host.StopAsync();
    }
}
