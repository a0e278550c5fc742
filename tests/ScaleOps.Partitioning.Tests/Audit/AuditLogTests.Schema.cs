using System;
using System.Linq;
using System.Threading.Tasks;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;
using ScaleOps.Partitioning.Archive;
using ScaleOps.Partitioning.Audit;
using ScaleOps.Partitioning.Lifecycle;
using ScaleOps.Tenancy;
using ScaleOps.TestInfrastructure;

namespace ScaleOps.Partitioning.Tests.Audit;

public partial class AuditLogTests
{
    /// <summary>
    /// The audit trail in a ScaleOps schema with a quote, a space and capitals in its name, archived: events are written
    /// and read per tenant, expired partitions are archived (every event in the blob) and dropped, and a restore brings
    /// them back to their tenant only.
    /// </summary>
    [Fact]
    public async Task The_audit_trail_in_a_hostile_schema_is_written_archived_and_restored_per_tenant()
    {
        const string schema = "Audit \"q\" x";
        var time = new FakeTimeProvider(TestHost.Monday);
        var blob = await TcpServer.BlobAsync();
        using var host = TestHost.Build(database.ConnectionString, o =>
        {
            o.MaintenanceInterval = TimeSpan.Zero;
            o.DdlRetryDelay = TimeSpan.Zero;
            o.BlobConnectionString = blob;
            o.ArchiveContainer = "audit-" + Guid.NewGuid().ToString("N");
            o.Audit.Retention = 3;
            o.Audit.Archive = true;
            o.Audit.BatchSize = 10;
        }, time, schema);
        await host.StartAsync();
        var audit = host.Services.GetRequiredService<IAuditLog>();
        var tenants = host.Services.GetRequiredService<ITenantContext>();
        Guid acmeId;
        using (tenants.BeginScope(new TenantId("acme")))
        {
            acmeId = await audit.WriteAsync(Entry("document.created", "a1"));
            time.Advance(TimeSpan.FromSeconds(1)); // newest first: the update is the later event
            await audit.WriteAsync(Entry("document.updated", "a1"));
        }

        using (tenants.BeginScope(new TenantId("globex")))
        {
            await audit.WriteAsync(Entry("document.created", "g1"));
        }

        await audit.FlushAsync().WaitAsync("the audit flush");
        var november = new DateTimeOffset(2026, 11, 1, 0, 0, 0, TimeSpan.Zero);
        using (tenants.BeginScope(new TenantId("acme")))
        {
            Assert.Equal(["document.updated", "document.created"], (await audit.QueryAsync(november, november.AddMonths(1))).Select(r => r.Action));
            Assert.Equal(["audit_log_p2026_11"], await audit.PartitionsReadAsync(november, november.AddMonths(1)));
        }

        time.Advance(TimeSpan.FromDays(140)); // 2027-04-12: with Retention = 3, November and December expire
        var maintenance = host.Services.GetRequiredService<IPartitionMaintenance>();
        var run = await maintenance.RunMaintenanceAsync();
        Assert.Empty(run.Failures);
        Assert.Contains(run.Actions, a => a.Kind == PartitionActionKind.Archive && a.Partition == "audit_log_p2026_11");
        Assert.Contains(run.Actions, a => a.Kind == PartitionActionKind.Drop && a.Partition == "audit_log_p2026_11");
        var archiver = host.Services.GetRequiredService<IPartitionArchiver>();
        Assert.Equal(3L, (await archiver.GetManifestAsync(schema, "audit_log", "audit_log_p2026_11"))!.Rows);
        using (tenants.BeginScope(new TenantId("acme")))
        {
            Assert.Empty(await audit.QueryAsync(november, november.AddMonths(1)));
        }

        Assert.Equal(3L, await archiver.RestoreAsync(schema, "audit_log", "audit_log_p2026_11"));
        using (tenants.BeginScope(new TenantId("acme")))
        {
            Assert.Equal(["document.updated", "document.created"], (await audit.QueryAsync(november, november.AddMonths(1))).Select(r => r.Action));
            Assert.Equal("a1", (await audit.FindAsync(acmeId))!.EntityId);
        }

        using (tenants.BeginScope(new TenantId("globex")))
        {
            Assert.Equal(["g1"], (await audit.QueryAsync(november, november.AddMonths(1))).Select(r => r.EntityId));
            Assert.Null(await audit.FindAsync(acmeId));
        }

        await host.StopAsync();
    }
}
