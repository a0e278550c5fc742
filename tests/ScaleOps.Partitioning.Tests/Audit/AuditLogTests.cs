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

public class AuditLogTests(PostgresDatabase database) : IClassFixture<PostgresDatabase>
{
    private async Task<(IHost Host, IAuditLog Audit, ITenantContext Tenants, FakeTimeProvider Time)> StartAsync(string schema, Action<AuditOptions>? audit = null)
    {
        var time = new FakeTimeProvider(TestHost.Monday);
        var host = TestHost.Build(database.ConnectionString, o =>
        {
            o.MaintenanceInterval = TimeSpan.Zero;
            audit?.Invoke(o.Audit);
        }, time, schema);
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

        await writer.StopAsync(System.Threading.CancellationToken.None).WaitAsync("the writer to drain and stop");
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

    [Fact]
    public async Task The_audit_table_is_append_only_and_writes_need_a_tenant()
    {
        var (host, audit, tenants, _) = await StartAsync("audit_append");
        using var _ = host;
        await Assert.ThrowsAsync<TenantRequiredException>(() => audit.WriteAsync(Entry("no tenant")).AsTask());
        using (tenants.BeginScope(new TenantId("acme")))
        {
            await audit.WriteAsync(Entry("kept"));
            await audit.FlushAsync().WaitAsync("the flush");
        }

        var update = await Assert.ThrowsAsync<PostgresException>(() => database.DataSource.ExecAsync("UPDATE audit_append.audit_log SET action = 'forged'"));
        Assert.Contains("append-only", update.MessageText, StringComparison.Ordinal);
        await Assert.ThrowsAsync<PostgresException>(() => database.DataSource.ExecAsync("DELETE FROM audit_append.audit_log"));
        Assert.Equal("kept", await database.DataSource.ScalarAsync<string>("SELECT action FROM audit_append.audit_log"));
        await host.StopAsync();
    }

    public static TheoryData<string, string> Unstorable => new()
    {
        { "entity-id-nul", "AuditEntry.EntityId contains a NUL character" },
        { "actor-nul", "AuditEntry.Actor contains a NUL character" },
        { "scope-user-nul", "AuditEntry.Actor (the scope's user id) contains a NUL character" },
        { "user-agent-surrogate", "AuditEntry.UserAgent contains a lone UTF-16 surrogate" },
        { "action-nul", "AuditEntry.Action contains a NUL character" },
        { "action-null", "AuditEntry.Action is required" },
        { "changes-nul", "AuditEntry.Changes contains the JSON escape \\u0000" },
        { "metadata-nul-key", "AuditEntry.Metadata contains the JSON escape \\u0000" },
        { "metadata-surrogate", "AuditEntry.Metadata contains the JSON escape \\udc00, a lone surrogate" },
    };

    [Theory]
    [MemberData(nameof(Unstorable))]
    public async Task A_value_PostgreSQL_can_never_store_is_refused_by_WriteAsync_naming_the_field(string @case, string message)
    {
        var schema = "audit_invalid_" + @case.Replace('-', '_');
        var (host, audit, tenants, _) = await StartAsync(schema);
        using var _ = host;
        var good = Entry("document.updated", "d1");
        var entry = @case switch
        {
            "entity-id-nul" => new AuditEntry { Action = "a", EntityType = "document", EntityId = "d\01" },
            "actor-nul" => new AuditEntry { Action = "a", EntityType = "document", Actor = "bob\0" },
            "scope-user-nul" => new AuditEntry { Action = "a", EntityType = "document" },
            "user-agent-surrogate" => new AuditEntry { Action = "a", EntityType = "document", UserAgent = "agent \ud800 1.0" },
            "action-nul" => new AuditEntry { Action = "a\0b", EntityType = "document" },
            "action-null" => new AuditEntry { Action = null!, EntityType = "document" },
            "changes-nul" => new AuditEntry { Action = "a", EntityType = "document", Changes = JsonDocument.Parse("{\"t\": \"x\\u0000y\"}").RootElement },
            "metadata-nul-key" => new AuditEntry { Action = "a", EntityType = "document", Metadata = JsonDocument.Parse("{\"\\u0000\": 1}").RootElement },
            "metadata-surrogate" => new AuditEntry { Action = "a", EntityType = "document", Metadata = JsonDocument.Parse("{\"t\": \"\\udc00\"}").RootElement },
            _ => throw new ArgumentOutOfRangeException(nameof(@case)),
        };

        using (tenants.BeginScope(new TenantId("acme"), userId: @case == "scope-user-nul" ? "alice\0" : "alice"))
        {
            var error = await Assert.ThrowsAsync<ArgumentException>(() => audit.WriteAsync(entry).AsTask());
            Assert.StartsWith(message, error.Message, StringComparison.Ordinal);
        }

        using (tenants.BeginScope(new TenantId("acme"), userId: "alice"))
        {
            // An escaped backslash before "u0000" is ordinary text, and a surrogate pair is valid: both are written.
            await audit.WriteAsync(new AuditEntry
            {
                Action = "ok 😀",
                EntityType = "document",
                Metadata = JsonDocument.Parse("{\"path\": \"c:\\\\u0000\", \"smile\": \"\\ud83d\\ude00\"}").RootElement,
            });
            await audit.WriteAsync(good);
            await audit.FlushAsync().WaitAsync("the flush");
        }

        Assert.Equal(2L, await database.DataSource.ScalarAsync<long>($"SELECT count(*) FROM {schema}.audit_log"));
        await host.StopAsync();
    }

    [Fact]
    public async Task An_event_PostgreSQL_rejects_is_dropped_and_counted_and_the_events_around_it_are_written()
    {
        var (host, audit, tenants, _) = await StartAsync("audit_rejected");
        using var _ = host;
        // Two events that pass WriteAsync but that PostgreSQL refuses every time: one breaks a CHECK added here, the other
        // holds a JSON number beyond numeric's range (jsonb: 22003 value overflows numeric format).
        await database.DataSource.ExecAsync("ALTER TABLE audit_rejected.audit_log ADD CONSTRAINT no_forbidden CHECK (action <> 'forbidden')");
        using var rejected = new Microsoft.Extensions.Diagnostics.Metrics.Testing.MetricCollector<long>(
            host.Services.GetRequiredService<ScaleOps.Diagnostics.ScaleOpsMetrics>().Meter, "scaleops.partitioning.audit.rejected");
        var written = new System.Collections.Generic.List<Guid>();
        using (tenants.BeginScope(new TenantId("acme")))
        {
            written.Add(await audit.WriteAsync(Entry("good.1")));
            await audit.WriteAsync(Entry("forbidden"));
            written.Add(await audit.WriteAsync(Entry("good.2")));
            written.Add(await audit.WriteAsync(Entry("good.3")));
            await audit.WriteAsync(new AuditEntry { Action = "huge", EntityType = "document", Metadata = JsonDocument.Parse("{\"n\": 1e1000000}").RootElement });
            written.Add(await audit.WriteAsync(Entry("good.4")));
            await audit.FlushAsync().WaitAsync("the flush past the events PostgreSQL rejects");

            written.Add(await audit.WriteAsync(Entry("good.after")));
            await audit.FlushAsync().WaitAsync("the flush of the next batch");
            foreach (var id in written)
            {
                Assert.NotNull(await audit.FindAsync(id));
            }
        }

        Assert.Equal(["good.1", "good.2", "good.3", "good.4", "good.after"],
            await database.DataSource.ColumnAsync("SELECT action FROM audit_rejected.audit_log ORDER BY action"));
        Assert.Equal(2, rejected.GetMeasurementSnapshot().Sum(m => m.Value));
        await host.StopAsync();
    }

    [Fact]
    public async Task Json_from_a_document_disposed_right_after_WriteAsync_is_written()
    {
        // Reading a disposed JsonDocument's element at write time threw ObjectDisposedException on every attempt: the
        // batch was retried forever and every later event waited behind it.
        var (host, audit, tenants, _) = await StartAsync("audit_disposed");
        using var _ = host;
        Guid id;
        using (tenants.BeginScope(new TenantId("acme")))
        {
            using (var changes = JsonDocument.Parse("{\"title\": [\"old\", \"new\"]}"))
            {
                id = await audit.WriteAsync(new AuditEntry { Action = "document.updated", EntityType = "document", Changes = changes.RootElement });
            }

            await audit.FlushAsync().WaitAsync("the flush of an event whose JSON document was disposed");
            Assert.Equal("new", (await audit.FindAsync(id))!.Changes!.Value.GetProperty("title")[1].GetString());
        }

        await host.StopAsync();
    }

    [Fact]
    public async Task A_batch_whose_events_are_already_written_completes_without_duplicates()
    {
        // What a COPY that committed but whose reply was lost leaves behind: the retry sends the same ids again.
        var (host, audit, tenants, _) = await StartAsync("audit_dup");
        using var _ = host;
        Guid first, second;
        using (tenants.BeginScope(new TenantId("acme")))
        {
            first = await audit.WriteAsync(Entry("document.created", "d1"));
            second = await audit.WriteAsync(Entry("document.updated", "d1"));
        }

        await using (var insert = database.DataSource.CreateCommand(
            "INSERT INTO audit_dup.audit_log (id, occurred_at, tenant_id, action, entity_type) VALUES ($1, $2, 'acme', 'already.there', 'document')"))
        {
            insert.Parameters.Add(new NpgsqlParameter<Guid> { TypedValue = first });
            insert.Parameters.Add(new NpgsqlParameter<DateTimeOffset> { TypedValue = TestHost.Monday });
            await insert.ExecuteNonQueryAsync();
        }

        await audit.FlushAsync().WaitAsync("the flush of a batch whose first id is already in the table");
        Assert.Equal(2L, await database.DataSource.ScalarAsync<long>("SELECT count(*) FROM audit_dup.audit_log"));
        using (tenants.BeginScope(new TenantId("acme")))
        {
            Assert.Equal("already.there", (await audit.FindAsync(first))!.Action);
            Assert.Equal("document.updated", (await audit.FindAsync(second))!.Action);
        }

        await host.StopAsync();
    }

    [Fact]
    public async Task Events_of_a_period_without_a_partition_stay_queued_until_maintenance_creates_it()
    {
        // "no partition of relation found for row" is SQLSTATE 23514 like a CHECK, but it is cured by maintenance: the
        // events are retried, not dropped as invalid data.
        var (host, audit, tenants, time) = await StartAsync("audit_nopart");
        using var _ = host;
        var failed = new TaskCompletionSource<Exception>(TaskCreationOptions.RunContinuationsAsynchronously);
        host.Services.GetServices<IHostedService>().OfType<ScaleOps.Partitioning.Internal.AuditWriter>().Single().WriteFailed += ex => failed.TrySetResult(ex);
        time.Advance(TimeSpan.FromDays(200)); // 2027-06: past the partitions made at start
        Guid id;
        using (tenants.BeginScope(new TenantId("acme")))
        {
            id = await audit.WriteAsync(Entry("future"));
        }

        var flush = audit.FlushAsync();
        var error = Assert.IsType<PostgresException>(await failed.Task.WaitAsync("the write to fail for want of a partition"));
        Assert.Equal(PostgresErrorCodes.CheckViolation, error.SqlState);
        Assert.False(flush.IsCompleted);

        await host.Services.GetRequiredService<ScaleOps.Partitioning.Lifecycle.IPartitionMaintenance>().RunMaintenanceAsync();
        await TestSignal.UntilAsync(() =>
        {
            time.Advance(TimeSpan.FromSeconds(5)); // the writer's retry pause runs on the fake clock
            return Task.FromResult(flush.IsCompleted);
        }, "the retried write once the partition exists");
        await flush;
        Assert.Equal(1L, await database.DataSource.ScalarAsync<long>($"SELECT count(*) FROM audit_nopart.audit_log WHERE id = '{id}'"));
        await host.StopAsync();
    }

    private static async Task<System.Collections.Generic.List<string>> ReadAllAsync(NpgsqlCommand command)
    {
        var lines = new System.Collections.Generic.List<string>();
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync())
        {
            lines.Add(reader.GetString(0));
        }

        return lines;
    }
}
