using System;
using System.Linq;
using System.Threading.Tasks;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;
using Npgsql;
using ScaleOps.Data;
using ScaleOps.Rls.Tests.Support;
using ScaleOps.Tenancy;
using ScaleOps.TestInfrastructure;

namespace ScaleOps.Rls.Tests.Routing;

/// <summary>The routing's log events (README: event ids 2001-2008): 2005, 2006 and 2008.</summary>
public partial class ReplicaRoutingTests
{
    [Fact]
    public async Task Routing_logs_a_skipped_replica_as_2005_a_fallback_as_2006_and_an_unreadable_primary_position_as_2008()
    {
        // A replica that refuses connections: skipped (2005), the read falls back to the primary (2006, Debug).
        var refused = new NpgsqlConnectionStringBuilder(Replica("refused"));
        await using (var proxy = new FaultyTcpProxy(refused.Host!, refused.Port, FaultyTcpProxy.ProxyMode.Refuse))
        {
            refused.Port = proxy.Port;
            refused.Pooling = false;
            await using var services = EventServices(database.AppConnectionString(), refused.ToString());
            using var scope = services.GetRequiredService<ITenantContext>().BeginScope(new TenantId("t02"));
            Assert.False((await WhereAsync(services.GetRequiredService<ITenantDataSource>(), TenantDataAccess.ReadOnly)).Standby);
            var logs = services.GetFakeLogCollector().GetSnapshot().Where(FromRls).ToList();
            Assert.Contains(logs, r => r.Id.Id == 2005 && r.Level == LogLevel.Warning && r.Message.Contains("skipped: unreachable", StringComparison.Ordinal));
            Assert.Contains(logs, r => r.Id.Id == 2006 && r.Level == LogLevel.Debug && r.Message == "No healthy read replica; reading from the primary");
        }

        // The primary refuses connections while the replica streams: its WAL position cannot be read (2008), the replica
        // is judged by its own WAL receiver, and the read goes to it.
        var primary = new NpgsqlConnectionStringBuilder(database.AppConnectionString());
        await using (var proxy = new FaultyTcpProxy(primary.Host!, primary.Port, FaultyTcpProxy.ProxyMode.Refuse))
        {
            primary.Port = proxy.Port;
            primary.Pooling = false;
            await using var services = EventServices(primary.ToString(), Replica("primary-refused"));
            using var scope = services.GetRequiredService<ITenantContext>().BeginScope(new TenantId("t02"));
            var data = services.GetRequiredService<ITenantDataSource>();
            await TestSignal.UntilAsync(async () => (await WhereAsync(data, TenantDataAccess.ReadOnly)).Standby, "a read from the replica");
            Assert.Contains(services.GetFakeLogCollector().GetSnapshot().Where(FromRls).ToList(), r => r.Id.Id == 2008 && r.Level == LogLevel.Warning
                && r.Message.StartsWith("Replica health check could not read the primary's WAL position", StringComparison.Ordinal));
        }
    }

    private static ServiceProvider EventServices(string primary, string replica) => RlsDatabase.Services(primary, o =>
    {
        o.ReplicaConnectionStrings.Add(replica);
        o.MaxReplicaLag = TimeSpan.FromMinutes(1);
        o.ReplicaCheckInterval = TimeSpan.Zero;
        o.ReplicaCheckTimeout = TimeSpan.FromSeconds(30);
    }, null, s => s.AddFakeLogging().AddLogging(b => b.SetMinimumLevel(LogLevel.Debug)));

    // Npgsql's own log events reuse some of these ids (2002 is one of its command events).
    private static bool FromRls(FakeLogRecord record) => record.Category?.StartsWith("ScaleOps.Rls", StringComparison.Ordinal) == true;
}
