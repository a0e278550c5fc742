using System;
using System.Linq;
using System.Security.Cryptography;
using System.Text.Json;
using System.Threading;
using System.Threading.Tasks;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using ScaleOps.Partitioning.Audit;
using ScaleOps.Tenancy;
using ScaleOps.TestInfrastructure;

namespace ScaleOps.Partitioning.Tests.Audit;

public partial class AuditLogTests
{
    [Fact]
    public async Task An_event_too_large_for_an_index_the_application_added_is_dropped_and_the_events_around_it_are_written()
    {
        // An index the application adds (here on entity_id) holds at most 2704 bytes per entry: PostgreSQL refuses a longer
        // value with 54000 (program_limit_exceeded), every time. Retried as a transport error, it held the loop forever and
        // every later event of every tenant waited behind it.
        var (host, audit, tenants, _) = await StartAsync("audit_index_limit");
        using var _ = host;
        await database.DataSource.ExecAsync("CREATE INDEX audit_entity ON audit_index_limit.audit_log (entity_id)");
        var huge = Convert.ToBase64String(RandomNumberGenerator.GetBytes(15_000)); // 20,000 characters that do not compress
        using (tenants.BeginScope(new TenantId("acme")))
        {
            await audit.WriteAsync(Entry("good.1", "d1"));
            await audit.WriteAsync(Entry("huge", huge));
            await audit.WriteAsync(Entry("good.2", "d2"));
            await audit.FlushAsync().WaitAsync("the flush past the event the index cannot hold");
        }

        Assert.Equal(["good.1", "good.2"], await database.DataSource.ColumnAsync("SELECT action FROM audit_index_limit.audit_log ORDER BY action"));
        await host.StopAsync();
    }

    [Fact]
    public async Task Json_read_with_comments_or_trailing_commas_is_written_as_plain_json()
    {
        // GetRawText keeps the comments and trailing commas a lenient JsonDocument skipped; jsonb refuses them (22P02), so
        // an event WriteAsync had accepted was dropped as invalid data.
        var (host, audit, tenants, _) = await StartAsync("audit_lenient_json");
        using var _ = host;
        var lenient = new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true };
        Guid id;
        using (tenants.BeginScope(new TenantId("acme")))
        {
            using var changes = JsonDocument.Parse("{\"title\": [\"old\", \"new\",], /* renamed */ \"n\": 1,}", lenient);
            id = await audit.WriteAsync(new AuditEntry { Action = "document.updated", EntityType = "document", Changes = changes.RootElement });
            await audit.FlushAsync().WaitAsync("the flush");
            var found = await audit.FindAsync(id);
            Assert.NotNull(found);
            Assert.Equal("new", found.Changes!.Value.GetProperty("title")[1].GetString());
            Assert.Equal(1, found.Changes!.Value.GetProperty("n").GetInt32());

            // A backslash in a comment starts no escape (it failed WriteAsync with FormatException).
            using var path = JsonDocument.Parse("{\"t\": 1 /* c:\\u00zz */}", lenient);
            await audit.WriteAsync(new AuditEntry { Action = "a", EntityType = "document", Metadata = path.RootElement });

            using var bad = JsonDocument.Parse("{\"t\": \"x\\u0000y\", /* c */ }", lenient);
            var error = await Assert.ThrowsAsync<ArgumentException>(
                () => audit.WriteAsync(new AuditEntry { Action = "a", EntityType = "document", Metadata = bad.RootElement }).AsTask());
            Assert.StartsWith("AuditEntry.Metadata contains the JSON escape \\u0000", error.Message, StringComparison.Ordinal);
            using var surrogate = JsonDocument.Parse("{\"t\": \"\\udc00\",}", lenient);
            error = await Assert.ThrowsAsync<ArgumentException>(
                () => audit.WriteAsync(new AuditEntry { Action = "a", EntityType = "document", Changes = surrogate.RootElement }).AsTask());
            Assert.StartsWith("AuditEntry.Changes contains a JSON string that is not valid UTF-16", error.Message, StringComparison.Ordinal);
        }

        await host.StopAsync();
    }

    [Fact]
    public async Task Events_written_while_the_host_stops_a_service_registered_before_the_audit_trail_are_written()
    {
        // The host stops its services in reverse order of registration, so a worker registered before AddPartitioning (or a
        // job runner added before it) stops after the audit writer: the events it wrote while finishing its work were
        // refused with "the audit writer is stopped".
        var time = new Microsoft.Extensions.Time.Testing.FakeTimeProvider(TestHost.Monday);
        using var host = TestHost.Build(database.ConnectionString, o => o.MaintenanceInterval = TimeSpan.Zero, time, "audit_stop_order",
            s => s.Insert(0, ServiceDescriptor.Singleton<IHostedService>(sp => new StopWriter(sp.GetRequiredService<IAuditLog>(), sp.GetRequiredService<ITenantContext>()))));
        await host.StartAsync();
        await host.StopAsync().WaitAsync("the host to stop");
        Assert.Equal(["worker.stopped"], await database.DataSource.ColumnAsync("SELECT action FROM audit_stop_order.audit_log"));
    }

    /// <summary>
    /// FindAsync of a version 7 id whose time no event can have (its 48-bit time past 9999, or the last millisecond of
    /// 9999, as an id read from a request may be) threw ArgumentOutOfRangeException from DateTime arithmetic; there is
    /// no such event, so the answer is null. The range ends of time are accepted by the queries too.
    /// </summary>
    [Fact]
    public async Task Ids_and_ranges_at_the_ends_of_time_find_nothing_instead_of_throwing()
    {
        var (host, audit, tenants, _) = await StartAsync("audit_ends");
        using var _ = host;
        using (tenants.BeginScope(new TenantId("acme")))
        {
            var written = await audit.WriteAsync(Entry("kept"));
            await audit.FlushAsync().WaitAsync("the flush");
            Assert.Null(await audit.FindAsync(Guid.Parse("ffffffff-ffff-7fff-bfff-ffffffffffff")));
            Assert.Null(await audit.FindAsync(Guid.CreateVersion7(DateTimeOffset.MaxValue)));
            Assert.Null(await audit.FindAsync(Guid.CreateVersion7(DateTimeOffset.UnixEpoch)));
            Assert.Equal([written], (await audit.QueryAsync(DateTimeOffset.MinValue, DateTimeOffset.MaxValue)).Select(r => r.Id));
            Assert.Empty(await audit.QueryAfterAsync(DateTimeOffset.MinValue, DateTimeOffset.MaxValue, new AuditPosition(DateTimeOffset.UnixEpoch, Guid.Empty)));
        }

        await host.StopAsync();
    }

    [Fact]
    public async Task A_reversed_time_range_is_refused_naming_both_bounds()
    {
        // A range given the wrong way round answered "no events", as if the trail had lost them.
        var (host, audit, tenants, _) = await StartAsync("audit_reversed");
        using var _ = host;
        using (tenants.BeginScope(new TenantId("acme")))
        {
            await audit.WriteAsync(Entry("document.created", "d1"));
            await audit.FlushAsync().WaitAsync("the flush");
            var (from, to) = (TestHost.Monday.AddDays(-1), TestHost.Monday.AddDays(1));
            Assert.Single(await audit.QueryAsync(from, to));

            var query = await Assert.ThrowsAsync<ArgumentException>(() => audit.QueryAsync(to, from));
            Assert.Contains("is after", query.Message, StringComparison.Ordinal);
            Assert.Contains(to.ToString("O", System.Globalization.CultureInfo.InvariantCulture), query.Message, StringComparison.Ordinal);
            await Assert.ThrowsAsync<ArgumentException>(() => audit.PartitionsReadAsync(to, from));
            Assert.Empty(await audit.QueryAsync(from, from)); // an empty range is not an error
        }

        await host.StopAsync();
    }

    [Fact]
    public async Task A_connection_terminated_mid_flush_loses_and_duplicates_no_event()
    {
        var (host, audit, tenants, time) = await StartAsync("audit_killed", a => a.BatchSize = 3);
        using var _ = host;
        var failed = new TaskCompletionSource<Exception>(TaskCreationOptions.RunContinuationsAsynchronously);
        host.Services.GetServices<IHostedService>().OfType<ScaleOps.Partitioning.Internal.AuditWriter>().Single().WriteFailed += ex => failed.TrySetResult(ex);
        await using var blocker = await database.DataSource.OpenConnectionAsync();
        await using var blockTx = await blocker.BeginTransactionAsync();
        await using (var lockTable = new Npgsql.NpgsqlCommand("LOCK TABLE audit_killed.audit_log IN ACCESS EXCLUSIVE MODE", blocker, blockTx))
        {
            await lockTable.ExecuteNonQueryAsync();
        }

        using (tenants.BeginScope(new TenantId("acme")))
        {
            for (var i = 0; i < 3; i++)
            {
                await audit.WriteAsync(Entry("killed", i.ToString(System.Globalization.CultureInfo.InvariantCulture)));
            }
        }

        // The batch's COPY waits for the lock: its connection is terminated under it.
        const string copy = "FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE 'COPY %audit_killed%'";
        await TestSignal.UntilAsync(async () => await database.DataSource.ScalarAsync<long>("SELECT count(*) " + copy) == 1, "the COPY to wait for the lock");
        await database.DataSource.ExecAsync("SELECT pg_terminate_backend(pid) " + copy);
        await failed.Task.WaitAsync("the write to fail");
        await blockTx.RollbackAsync();

        var flush = audit.FlushAsync();
        await TestSignal.UntilAsync(() =>
        {
            time.Advance(TimeSpan.FromSeconds(5)); // the writer's retry pause runs on the fake clock
            return Task.FromResult(flush.IsCompleted);
        }, "the retried write");
        await flush;
        Assert.Equal(["0", "1", "2"], await database.DataSource.ColumnAsync("SELECT entity_id FROM audit_killed.audit_log ORDER BY entity_id"));
        await host.StopAsync();
    }

    /// <summary>A worker that writes an audit event as it stops (the last job it finishes, say).</summary>
    private sealed class StopWriter(IAuditLog audit, ITenantContext tenants) : IHostedService
    {
        public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

        public async Task StopAsync(CancellationToken cancellationToken)
        {
            using var scope = tenants.BeginScope(new TenantId("acme"));
            await audit.WriteAsync(new AuditEntry { Action = "worker.stopped", EntityType = "worker" }, cancellationToken);
        }
    }
}
