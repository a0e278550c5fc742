using System;
using System.Linq;
using System.Threading.Tasks;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using ScaleOps.Diagnostics;
using ScaleOps.Data;
using ScaleOps.Rls.Tests.Support;
using ScaleOps.Tenancy;

namespace ScaleOps.Rls.Tests;

public class TenantConnectionExtensionsTests(RlsDatabase database) : IClassFixture<RlsDatabase>
{
    [Fact]
    public async Task The_hybrid_filter_binds_the_tenant_as_the_columns_type_and_the_policy_still_applies()
    {
        await using var services = RlsDatabase.Services(database.AppConnectionString());
        var data = services.GetRequiredService<ITenantDataSource>();
        var tenants = services.GetRequiredService<ITenantContext>();

        using (tenants.BeginScope(new TenantId("t05")))
        {
            await using var connection = await data.OpenConnectionAsync();
            await using var batch = connection.CreateTenantFilteredBatch(
                "SELECT count(*) FROM documents WHERE tenant_id = $1 AND title LIKE $2", "doc %");
            Assert.Equal(5L, await batch.ExecuteScalarAsync());

            // The policy is the second fence: a query filtering for another tenant still sees only its own rows.
            await using var other = connection.CreateBatch("SELECT count(*) FROM documents WHERE tenant_id IN ('t06', $1)", "t05");
            Assert.Equal(5L, await other.ExecuteScalarAsync());
        }

        using (tenants.BeginScope(new TenantId(RlsDatabase.AccountTenantB.ToString())))
        {
            await using var connection = await data.OpenConnectionAsync();
            await using var batch = connection.CreateTenantFilteredBatch("SELECT count(*) FROM accounts WHERE tenant_id = $1");
            Assert.Equal(1L, await batch.ExecuteScalarAsync());
            var ex = Assert.Throws<ArgumentException>(() => connection.CreateTenantFilteredBatch("SELECT count(*) FROM accounts"));
            Assert.Contains("must filter by tenant with $1", ex.Message, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task Tenant_sessions_are_counted_by_kind()
    {
        await using var services = RlsDatabase.Services(database.AppConnectionString());
        using var sessions = new MetricCollector<long>(services.GetRequiredService<ScaleOpsMetrics>().Meter, "scaleops.rls.sessions");
        var data = services.GetRequiredService<ITenantDataSource>();
        using (services.GetRequiredService<ITenantContext>().BeginScope(new TenantId("t01")))
        {
            await (await data.OpenConnectionAsync()).DisposeAsync();
            await (await data.BeginTransactionAsync()).DisposeAsync();
            await (await data.BeginTransactionAsync()).DisposeAsync();
        }

        var kinds = sessions.GetMeasurementSnapshot().Select(m => (string)m.Tags["scaleops.rls.kind"]!).Order(StringComparer.Ordinal);
        Assert.Equal(["batch", "transaction", "transaction"], kinds);
    }
}
