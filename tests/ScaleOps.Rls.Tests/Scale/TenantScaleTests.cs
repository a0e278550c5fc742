using System;
using System.Collections;
using System.Linq;
using System.Reflection;
using System.Runtime.CompilerServices;
using System.Threading.Tasks;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using ScaleOps.Rls.EntityFrameworkCore;
using ScaleOps.Rls.Internal;
using ScaleOps.Rls.Tests.Support;
using ScaleOps.Tenancy;

namespace ScaleOps.Rls.Tests.Scale;

/// <summary>
/// The class counts the entries of process-wide weak tables, which every class's work adds to and every GC prunes: it
/// runs alone, after the parallel classes (in the full run beside them, another class's connections collected during the
/// test made the count of 8 open connections read 17 against a baseline of 15).
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class ProcessWideStateCollection
{
    public const string Name = "Tests that count process-wide state";
}

/// <summary>
/// Tens of thousands of tenants: the package keeps no state per tenant in the process (only per live connection, context
/// or transaction, in weak tables), and a placement map of 50,000 tenants routes each one.
/// </summary>
[Collection(ProcessWideStateCollection.Name)]
public class TenantScaleTests(RlsDatabase database) : IClassFixture<RlsDatabase>
{
    /// <summary>The live entries of every weak table the package keeps (by connection, transaction owner and context).</summary>
    private static int LiveEntries()
    {
        var tables = new[]
        {
            (typeof(TenantConnections), "Homes"), (typeof(TenantConnections), "Replicas"), (typeof(TenantTransactions), "Owners"),
            (typeof(RlsDbCommandInterceptor).Assembly.GetType("ScaleOps.Rls.EntityFrameworkCore.ReplicaReads", throwOnError: true)!, "States"),
        };
        var count = 0;
        foreach (var (type, name) in tables)
        {
            var field = type.GetField(name, BindingFlags.NonPublic | BindingFlags.Static)
                ?? throw new InvalidOperationException($"{type.Name}.{name} is gone: count the package's per-connection state anew.");
            count += ((IEnumerable)field.GetValue(null)!).Cast<object>().Count();
        }

        return count;
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static async Task WorkAsAsync(RlsApis apis, int tenants)
    {
        for (var i = 0; i < tenants; i++)
        {
            using var scope = apis.Tenants.BeginScope(new TenantId($"scale-{i:00000}"), $"user-{i}", ["reader"]);
            Assert.Empty(await apis.ReadTenantsAsync(Api.Batch));
            if (i % 3 == 0)
            {
                Assert.Empty(await apis.ReadTenantsAsync(Api.Transaction));
            }

            if (i % 5 == 0)
            {
                await using var db = apis.NewContext();
                using var replicas = db.ReadFromReplicas();
                Assert.Equal(0, await db.Documents.CountAsync());
            }
        }
    }

    [Fact]
    public async Task Work_for_thousands_of_tenants_leaves_no_state_per_tenant_behind()
    {
        await using var services = RlsDatabase.Services(database.AppConnectionString());
        var apis = new RlsApis(services);
        await WorkAsAsync(apis, 20);
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
        var before = LiveEntries();

        await WorkAsAsync(apis, 3000);
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();

        // Entries live only as long as their connection, transaction or context: none of the 3,000 tenants' is left.
        Assert.InRange(LiveEntries(), 0, before + 10);

        // The count sees live entries: 8 open tenant connections are at least 8 entries. Not `before + 8`: an entry of
        // the earlier work can still be reachable at `before` (a pooled connector keeps its last connection object until
        // it is rented again) and die once these 8 rent the connectors (seen: 9 against before + 8 = 11).
        var open = new System.Collections.Generic.List<ScaleOps.Data.TenantConnection>();
        for (var i = 0; i < 8; i++)
        {
            using var scope = apis.Tenants.BeginScope(new TenantId($"open-{i}"));
            open.Add(await apis.Data.OpenConnectionAsync());
        }

        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
        Assert.InRange(LiveEntries(), 8, int.MaxValue);
        foreach (var connection in open)
        {
            await connection.DisposeAsync();
        }
    }

    [Fact]
    public void A_placement_map_of_50000_tenants_routes_every_tenant()
    {
        const int Tenants = 50_000;
        using var services = RlsDatabase.Services(database.AppConnectionString(), o =>
        {
            o.Shards["a"] = "Host=127.0.0.1;Port=1;Database=a";
            o.Shards["b"] = "Host=127.0.0.1;Port=2;Database=b";
            for (var i = 0; i < Tenants; i++)
            {
                o.TenantPlacements[$"placed-{i:00000}"] = i % 2 == 0 ? "a" : "b";
            }
        });
        var router = services.GetRequiredService<TenantRouter>();
        for (var i = 0; i < Tenants; i++)
        {
            Assert.Equal(i % 2 == 0 ? "shard 'a'" : "shard 'b'", router.DescribeHome(router.HomeOf(new TenantId($"placed-{i:00000}"))));
        }

        Assert.Equal("the shared database", router.DescribeHome(router.HomeOf(new TenantId("placed-50000"))));
        Assert.Equal(2, router.Shards.Count); // one data source per shard, not per tenant
    }
}
