using System;
using System.Linq;
using System.Net;
using System.Text.Json;
using System.Threading.Tasks;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Testing;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Time.Testing;
using Npgsql;
using ScaleOps.Partitioning.Audit;
using ScaleOps.Tenancy;
using ScaleOps.TestInfrastructure;

namespace ScaleOps.Partitioning.Tests.Audit;

public partial class AuditLogTests
{
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
            "user-agent-surrogate" => new AuditEntry { Action = "a", EntityType = "document", UserAgent = "agent \ud800 1.0" },
            "action-nul" => new AuditEntry { Action = "a\0b", EntityType = "document" },
            "action-null" => new AuditEntry { Action = null!, EntityType = "document" },
            "changes-nul" => new AuditEntry { Action = "a", EntityType = "document", Changes = JsonDocument.Parse("{\"t\": \"x\\u0000y\"}").RootElement },
            "metadata-nul-key" => new AuditEntry { Action = "a", EntityType = "document", Metadata = JsonDocument.Parse("{\"\\u0000\": 1}").RootElement },
            "metadata-surrogate" => new AuditEntry { Action = "a", EntityType = "document", Metadata = JsonDocument.Parse("{\"t\": \"\\udc00\"}").RootElement },
            _ => throw new ArgumentOutOfRangeException(nameof(@case)),
        };

        // A scope's user id with a NUL no longer gets this far: ITenantContext.BeginScope refuses it (Core's tests).
        using (tenants.BeginScope(new TenantId("acme"), userId: "alice"))
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
        var (host, audit, tenants, _) = await StartAsync("audit_rejected", services: s => s.AddFakeLogging());
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
        // Each dropped event is logged (4012, an error naming it); a batch refused for its data, before it is split, is 4013.
        var records = host.Services.GetFakeLogCollector().GetSnapshot();
        Assert.Equal(["forbidden", "huge"], records.Where(r => r.Id.Id == 4012)
            .Select(r => Assert.IsType<string>(r.StructuredState!.Single(kv => kv.Key == "Action").Value)).Order(StringComparer.Ordinal));
        Assert.All(records.Where(r => r.Id.Id == 4012), r => Assert.Equal(Microsoft.Extensions.Logging.LogLevel.Error, r.Level));
        Assert.Contains(records, r => r.Id.Id == 4013 && r.Level == Microsoft.Extensions.Logging.LogLevel.Warning);
        Assert.DoesNotContain(records, r => r.Id.Id == 4010); // not retried as a transport failure
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
        var (host, audit, tenants, time) = await StartAsync("audit_nopart", services: s => s.AddFakeLogging());
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
        // Each failed attempt is logged (4010, an error), with the event kept queued.
        var failures = host.Services.GetFakeLogCollector().GetSnapshot().Where(r => r.Id.Id == 4010).ToList();
        Assert.NotEmpty(failures);
        Assert.StartsWith("Writing 1 audit events failed (attempt 1); they stay queued and are retried", failures[0].Message, StringComparison.Ordinal);
        Assert.Same(error, failures[0].Exception);
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
