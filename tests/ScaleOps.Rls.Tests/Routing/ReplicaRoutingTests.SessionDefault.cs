using System;
using System.Linq;
using System.Threading.Tasks;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Testing;
using Npgsql;
using ScaleOps.Data;
using ScaleOps.Rls.Tests.Support;
using ScaleOps.Tenancy;

namespace ScaleOps.Rls.Tests.Routing;

/// <summary>A replica whose sessions start with a tenant context setting (its connection string's Options, say).</summary>
public partial class ReplicaRoutingTests
{
    [Fact]
    public async Task A_replica_whose_sessions_start_with_a_tenant_context_is_not_read_from()
    {
        // The context is transaction-local and falls back to the session's value: a statement without it would run as t03.
        var withDefault = new NpgsqlConnectionStringBuilder(Replica("context-default")) { Options = "-c app.tenant_id=t03" }.ToString();
        await using var services = RlsDatabase.Services(database.AppConnectionString(), o =>
        {
            o.ReplicaConnectionStrings.Add(withDefault);
            o.MaxReplicaLag = TimeSpan.FromMinutes(1);
            o.ReplicaCheckInterval = TimeSpan.Zero;
            o.ReplicaCheckTimeout = TimeSpan.FromSeconds(30);
        }, null, s => s.AddFakeLogging());
        var data = services.GetRequiredService<ITenantDataSource>();
        using var scope = services.GetRequiredService<ITenantContext>().BeginScope(new TenantId("t02"));

        await using var connection = await data.OpenConnectionAsync(TenantDataAccess.ReadOnly);
        // A command sent on the connection directly carries no context: it must see no row, not the default tenant's.
        await using (var raw = new NpgsqlCommand("SELECT pg_is_in_recovery(), (SELECT count(*) FROM documents)", connection.Connection))
        await using (var reader = await raw.ExecuteReaderAsync())
        {
            await reader.ReadAsync();
            Assert.False(reader.GetBoolean(0), "the read went to the replica whose sessions start as tenant t03");
            Assert.Equal(0L, reader.GetInt64(1));
        }

        var skipped = services.GetFakeLogCollector().GetSnapshot().Where(r => r.Id.Id == 2005).Select(r => r.Message).ToList();
        Assert.Contains("app.tenant_id = 't03'", Assert.Single(skipped), StringComparison.Ordinal);
    }
}
