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

/// <summary>A replica reached as a role that bypasses row-level security, when AllowBypassRlsRole lets the host use one.</summary>
public partial class ReplicaRoutingTests
{
    [Fact]
    public async Task With_AllowBypassRlsRole_a_replica_reached_as_a_bypassing_role_is_read_from_and_warned_about_once()
    {
        // The application itself connects as its NOBYPASSRLS role (no start-up warning); only the replica's connection
        // string names the superuser. AllowBypassRlsRole lets the router use it, and its tenant reads see every tenant.
        var asSuperuser = new NpgsqlConnectionStringBuilder(PostgresReplicaServer.ConnectionStringFor(database.Name)) { ApplicationName = "bypass-allowed" }.ToString();
        await using var services = RlsDatabase.Services(database.AppConnectionString(), o =>
        {
            o.ReplicaConnectionStrings.Add(asSuperuser);
            o.MaxReplicaLag = TimeSpan.FromMinutes(1);
            o.ReplicaCheckInterval = TimeSpan.Zero;
            o.ReplicaCheckTimeout = TimeSpan.FromSeconds(30);
            o.AllowBypassRlsRole = true;
        }, null, s => s.AddFakeLogging());
        var data = services.GetRequiredService<ITenantDataSource>();
        using var scope = services.GetRequiredService<ITenantContext>().BeginScope(new TenantId("t02"));
        await TestSignal.UntilAsync(async () => (await WhereAsync(data, TenantDataAccess.ReadOnly)).Standby, "a read from the replica");
        var read = await WhereAsync(data, TenantDataAccess.ReadOnly);
        Assert.True(read.Standby);
        Assert.Equal(210, read.Rows); // every tenant's documents (1 + 2 + ... + 20), not t02's 2

        var warnings = services.GetFakeLogCollector().GetSnapshot().Where(r => r.Id.Id == 2007).Select(r => r.Message).ToList();
        var warning = Assert.Single(warnings);
        Assert.StartsWith("Read replica ", warning, StringComparison.Ordinal);
        Assert.Contains("is reached as role postgres, which bypasses row-level security (SUPERUSER or BYPASSRLS)", warning, StringComparison.Ordinal);
        Assert.Contains("every tenant's rows", warning, StringComparison.Ordinal);
    }
}
