using System;
using System.Linq;
using System.Threading.Tasks;
using Microsoft.EntityFrameworkCore;
using ScaleOps.Rls.EntityFrameworkCore;
using ScaleOps.Rls.Tests.Support;
using ScaleOps.Tenancy;

namespace ScaleOps.Rls.Tests.Isolation;

/// <summary><c>UseTenantTransactionAsync</c>: EF Core work in a tenant transaction, in one call.</summary>
public abstract partial class IsolationSuite
{
    [Fact]
    public async Task UseTenantTransactionAsync_runs_EF_Core_work_in_the_tenant_transaction_so_it_commits_and_rolls_back_with_it()
    {
        await using var services = RlsDatabase.Services(AppConnectionString(5));
        var apis = new RlsApis(services);
        using var scope = apis.Tenants.BeginScope(new TenantId("ef-use-tx"));
        await using (var tx = await apis.Data.BeginTransactionAsync())
        {
            await using var db = apis.NewContext(); // a context whose own connections come from the data source
            await db.Database.UseTenantTransactionAsync(tx);
            db.Documents.Add(new Document { TenantId = "ef-use-tx", Title = "rolled back" });
            await db.SaveChangesAsync();
            await using var raw = tx.CreateCommand("SELECT count(*) FROM documents WHERE title = 'rolled back'");
            Assert.Equal(1L, await raw.ExecuteScalarAsync()); // EF Core's insert is in the transaction the raw command runs in
        } // disposed without a commit

        await using (var check = apis.NewContext())
        {
            Assert.Equal(0, await check.Documents.CountAsync(d => d.Title == "rolled back"));
        }

        await using (var tx = await apis.Data.BeginTransactionAsync())
        {
            await using var db = apis.NewContext();
            await db.Database.UseTenantTransactionAsync(tx);
            db.Documents.Add(new Document { TenantId = "ef-use-tx", Title = "committed" });
            await db.SaveChangesAsync();
            await tx.CommitAsync();
        }

        await using (var check = apis.NewContext())
        {
            Assert.Equal(["ef-use-tx"], await check.Documents.Where(d => d.Title == "committed").Select(d => d.TenantId).ToListAsync());
        }
    }

    [Fact]
    public async Task UseTenantTransactionAsync_is_refused_on_a_context_that_opened_its_own_connection()
    {
        await using var services = RlsDatabase.Services(AppConnectionString(5));
        var apis = new RlsApis(services);
        using var scope = apis.Tenants.BeginScope(new TenantId("ef-use-tx"));
        await using var tx = await apis.Data.BeginTransactionAsync();
        await using var db = apis.NewContext();
        await Assert.ThrowsAsync<ArgumentNullException>(() => db.Database.UseTenantTransactionAsync(null!));

        await db.Database.OpenConnectionAsync();
        var refused = await Assert.ThrowsAsync<InvalidOperationException>(() => db.Database.UseTenantTransactionAsync(tx));
        Assert.Contains("already has an open connection", refused.Message, StringComparison.Ordinal);
    }
}
