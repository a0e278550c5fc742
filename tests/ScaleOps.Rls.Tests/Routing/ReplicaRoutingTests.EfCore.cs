using System;
using System.Linq;
using System.Threading.Tasks;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using ScaleOps.Diagnostics;
using ScaleOps.Rls.EntityFrameworkCore;
using ScaleOps.Rls.Tests.Support;
using ScaleOps.Tenancy;
using ScaleOps.TestInfrastructure;

namespace ScaleOps.Rls.Tests.Routing;

/// <summary>EF Core's reads inside <see cref="RlsDbContextExtensions.ReadFromReplicas"/>, against the same real streaming replica.</summary>
public partial class ReplicaRoutingTests
{
    private static async Task<(bool Standby, string App)> WhereAsync(DocumentsContext db) =>
        (await db.Database.SqlQueryRaw<bool>("SELECT pg_is_in_recovery() AS \"Value\"").SingleAsync(),
         await db.Database.SqlQueryRaw<string>("SELECT current_setting('application_name') AS \"Value\"").SingleAsync());

    [Fact]
    public void A_replica_scope_needs_a_context() =>
        Assert.Equal("context", Assert.Throws<ArgumentNullException>(() => RlsDbContextExtensions.ReadFromReplicas(null!)).ParamName);

    [Fact]
    public async Task EF_Core_reads_in_a_replica_scope_go_to_the_replica_under_rls_while_SaveChanges_and_later_reads_use_the_primary()
    {
        await using var services = Services(TimeSpan.FromMinutes(1), Replica("ef"));
        var apis = new RlsApis(services);
        using var tenant = apis.Tenants.BeginScope(new TenantId("t09"));
        await using var db = apis.NewContext();
        var added = new Document { TenantId = "t09", Title = "saved inside a replica scope" };
        using (db.ReadFromReplicas())
        {
            Assert.Equal((true, "ef"), await WhereAsync(db));
            Assert.Equal(Enumerable.Repeat("t09", 9), await db.Documents.Select(d => d.TenantId).ToListAsync());

            // The synchronous API takes the same route.
            Assert.True(db.Database.SqlQueryRaw<bool>("SELECT pg_is_in_recovery() AS \"Value\"").AsEnumerable().Single());
            Assert.Equal(9, db.Documents.Count());

            // A replica refuses writes ("cannot execute INSERT in a read-only transaction"): SaveChanges goes to the primary.
            db.Documents.Add(added);
            await db.SaveChangesAsync();
            Assert.Equal((true, "ef"), await WhereAsync(db));
        }

        Assert.False((await WhereAsync(db)).Standby);
        Assert.Equal(10, await db.Documents.CountAsync());
        db.Documents.Remove(added);
        await db.SaveChangesAsync();
    }

    [Fact]
    public async Task A_pooled_context_returned_with_an_undisposed_replica_scope_reads_from_the_primary_on_its_next_lease()
    {
        await using var services = Services(TimeSpan.FromMinutes(1), Replica("pooled"));
        var apis = new RlsApis(services);
        var factory = new PooledDbContextFactory<DocumentsContext>(new DbContextOptionsBuilder<DocumentsContext>()
            .UseNpgsql(apis.Raw)
            .AddInterceptors(services.GetRequiredService<RlsDbCommandInterceptor>())
            .Options, poolSize: 1);
        using var tenant = apis.Tenants.BeginScope(new TenantId("t04"));

        DocumentsContext first;
        IDisposable forgotten;
        await using (first = await factory.CreateDbContextAsync())
        {
            forgotten = first.ReadFromReplicas(); // never disposed in this lease
            Assert.Equal((true, "pooled"), await WhereAsync(first));
        }

        await using (var second = await factory.CreateDbContextAsync())
        {
            Assert.Same(first, second); // the pool's one instance, leased again
            Assert.False((await WhereAsync(second)).Standby);

            // A scope of this lease still works, and disposing the old lease's scope does not end it.
            using (second.ReadFromReplicas())
            {
                forgotten.Dispose();
                Assert.Equal((true, "pooled"), await WhereAsync(second));
                Assert.Equal(4, await second.Documents.CountAsync());
            }

            Assert.False((await WhereAsync(second)).Standby);
        }
    }

    [Fact]
    public async Task EF_Core_replica_reads_fall_back_to_the_primary_when_no_replica_is_healthy_or_one_refuses_the_connection()
    {
        var (proxy, services) = ProxiedReplica();
        await using var disposeProxy = proxy;
        await using var disposeServices = services;
        using var fallbacks = new MetricCollector<long>(services.GetRequiredService<ScaleOpsMetrics>().Meter, "scaleops.rls.replica.fallbacks");
        var apis = new RlsApis(services);
        using var tenant = apis.Tenants.BeginScope(new TenantId("t03"));
        await using var db = apis.NewContext();
        using var replicaReads = db.ReadFromReplicas();
        Assert.Equal((true, "proxied"), await WhereAsync(db));

        // Healthy for another minute by its last check, but its connections are now refused: the read goes to the primary.
        proxy.Mode = FaultyTcpProxy.ProxyMode.Refuse;
        Assert.False(await StandbyAsync(db));
        Assert.Equal(1, Assert.Single(fallbacks.GetMeasurementSnapshot()).Value);
        var accepted = proxy.Accepted;

        // Now known to be down: no replica is healthy, so reads stay on the primary without trying it (one fallback each).
        Assert.Equal(3, await db.Documents.CountAsync());
        Assert.False(await StandbyAsync(db));
        Assert.Equal(3, fallbacks.GetMeasurementSnapshot().Count);
        Assert.Equal(accepted, proxy.Accepted);
    }

    private static Task<bool> StandbyAsync(DocumentsContext db) =>
        db.Database.SqlQueryRaw<bool>("SELECT pg_is_in_recovery() AS \"Value\"").SingleAsync();
}
