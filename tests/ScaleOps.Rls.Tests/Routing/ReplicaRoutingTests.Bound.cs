using System;
using System.Linq;
using System.Threading.Tasks;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Testing;
using Npgsql;
using ScaleOps.Data;
using ScaleOps.Rls.Tests.Support;
using ScaleOps.Tenancy;
using ScaleOps.TestInfrastructure;

namespace ScaleOps.Rls.Tests.Routing;

/// <summary>MaxReplicaLag against ReplicaCheckInterval: how long a healthy verdict is trusted.</summary>
public partial class ReplicaRoutingTests
{
    [Fact]
    public async Task A_healthy_replica_is_checked_again_before_its_data_could_be_older_than_the_bound_even_within_the_check_interval()
    {
        // A replica found within the bound is behind by at most its lag at the check plus the time since: trusted for the
        // whole ReplicaCheckInterval (ten minutes here), it could serve data nine minutes older than the one-minute bound.
        // The replica sits behind a local proxy, so that what happens after the bound is visible: a new check (which finds
        // it unreachable), not a read sent to it on the old verdict.
        var replica = new NpgsqlConnectionStringBuilder(Replica("bounded"));
        await using var proxy = new FaultyTcpProxy(replica.Host!, replica.Port, FaultyTcpProxy.ProxyMode.Forward);
        replica.Port = proxy.Port;
        replica.Pooling = false;
        var time = new ShiftedTime();
        await using var services = RlsDatabase.Services(database.AppConnectionString(), o =>
        {
            o.ReplicaConnectionStrings.Add(replica.ToString());
            o.MaxReplicaLag = TimeSpan.FromMinutes(1);
            o.ReplicaCheckInterval = TimeSpan.FromMinutes(10);
            o.ReplicaCheckTimeout = TimeSpan.FromSeconds(30);
        }, time, s => s.AddFakeLogging());
        var data = services.GetRequiredService<ITenantDataSource>();
        var logs = services.GetFakeLogCollector();
        using var scope = services.GetRequiredService<ITenantContext>().BeginScope(new TenantId("t02"));
        await TestSignal.UntilAsync(async () => (await WhereAsync(data, TenantDataAccess.ReadOnly)).Standby, "a read from the replica");

        proxy.Mode = FaultyTcpProxy.ProxyMode.Refuse;
        logs.Clear();
        time.Shift = TimeSpan.FromMinutes(2); // past the bound, well within the check interval
        var read = await WhereAsync(data, TenantDataAccess.ReadOnly);
        Assert.False(read.Standby);
        Assert.Equal(2, read.Rows);
        var skipped = logs.GetSnapshot().Where(r => r.Message.StartsWith("Read replica", StringComparison.Ordinal)).Select(r => r.Message).ToList();
        var reason = Assert.Single(skipped);
        Assert.Contains("skipped: unreachable", reason, StringComparison.Ordinal); // a check ran
        Assert.DoesNotContain("a read could not open a connection", reason, StringComparison.Ordinal); // not a read on the old verdict
    }
}
