using System;
using System.Collections.Generic;
using System.Linq;
using System.Threading.Tasks;
using ScaleOps.Partitioning.Audit;
using ScaleOps.Tenancy;
using ScaleOps.TestInfrastructure;

namespace ScaleOps.Partitioning.Tests.Audit;

public partial class AuditLogTests
{
    [Fact]
    public async Task Paging_after_a_position_returns_every_event_once_when_many_share_a_timestamp()
    {
        // Ten events per microsecond (the clock does not move between them), a page of 7: every boundary but the last falls
        // between events of one timestamp. Narrowing "to" to the last event's time skipped the rest of that timestamp.
        var (host, audit, tenants, time) = await StartAsync("audit_paging", a => a.BatchSize = 16);
        using var _ = host;
        var written = new HashSet<Guid>();
        using (tenants.BeginScope(new TenantId("acme")))
        {
            for (var tick = 0; tick < 4; tick++)
            {
                for (var i = 0; i < 10; i++)
                {
                    written.Add(await audit.WriteAsync(Entry("e", $"{tick}-{i}")));
                }

                time.Advance(TimeSpan.FromSeconds(1));
            }

            await audit.FlushAsync().WaitAsync("the flush");
            using (tenants.BeginScope(new TenantId("other")))
            {
                await audit.WriteAsync(Entry("not acme's"));
                await audit.FlushAsync().WaitAsync("the flush");
            }

            var from = TestHost.Monday.AddHours(-1);
            var to = TestHost.Monday.AddHours(1);
            var read = new List<AuditRecord>();
            var page = await audit.QueryAsync(from, to, limit: 7);
            for (var pages = 0; page.Count > 0 && pages < 20; pages++)
            {
                read.AddRange(page);
                page = await audit.QueryAfterAsync(from, to, AuditPosition.Of(page[^1]), limit: 7);
            }

            Assert.Equal(40, read.Count);
            Assert.Equal(written.Order(), read.Select(r => r.Id).Order());
            Assert.All(read, r => Assert.Equal("acme", r.Tenant));

            // Newest first; within one time by descending id, as the next page continues.
            var order = read.Select(r => (r.OccurredAt, r.Id)).ToList();
            Assert.Equal(order.OrderByDescending(o => o.OccurredAt).ThenByDescending(o => o.Id, Comparer<Guid>.Create(CompareAsPostgres)).ToList(), order);

            // Bad input: no record, a limit out of range.
            Assert.Throws<ArgumentNullException>(() => AuditPosition.Of(null!));
            await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => audit.QueryAfterAsync(from, to, AuditPosition.Of(read[0]), limit: 0));
            await Assert.ThrowsAsync<ArgumentException>(() => audit.QueryAfterAsync(to, from, AuditPosition.Of(read[0])));

            // A position before the range's start leaves nothing; the range's end still bounds a position past it.
            Assert.Empty(await audit.QueryAfterAsync(from, to, new AuditPosition(from.AddTicks(-10), Guid.Empty)));
            var late = await audit.QueryAfterAsync(from, TestHost.Monday.AddSeconds(1), new AuditPosition(to.AddDays(1), Guid.Empty), limit: 100);
            Assert.Equal(10, late.Count);
        }

        await host.StopAsync();
    }

    // PostgreSQL compares uuids byte by byte in their text order; Guid.CompareTo does not (its first fields are little-endian).
    private static int CompareAsPostgres(Guid a, Guid b) => string.CompareOrdinal(a.ToString("N"), b.ToString("N"));
}
