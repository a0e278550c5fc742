using System;
using System.Threading;
using System.Threading.Tasks;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using ScaleOps.Data;
using ScaleOps.Tenancy;

namespace ScaleOps.Core.Tests.Snippets;

// The README's "Use it in your service" code, compiled here so the README never shows code that does not build.
// ReadmeTests checks that the README quotes the region below verbatim.
public static class UseInYourService
{
    #region readme
    public static IHost Build(string[] args)
    {
        var builder = Host.CreateApplicationBuilder(args);

        // Reads the "ScaleOps" section and ConnectionStrings:Postgres; bad settings stop the start with a clear message.
        builder.Services.AddScaleOps(options => options.Schema = "scaleops");

        return builder.Build();
    }

    public static async Task<long> CountOrdersAsync(IServiceProvider services, string tenant, CancellationToken ct)
    {
        var tenants = services.GetRequiredService<ITenantContext>();
        var data = services.GetRequiredService<ITenantDataSource>();

        // Everything inside the scope (cache keys, jobs, RLS settings...) sees this tenant. Tenant work goes through
        // ITenantDataSource: with ScaleOps.Rls it sends the tenant to PostgreSQL and opens the tenant's shard, while a
        // command on the shared NpgsqlDataSource carries no tenant and sees no row of a table that ScaleOps.Rls protects.
        using var scope = tenants.BeginScope(TenantId.Parse(tenant));
        await using var db = await data.OpenConnectionAsync(TenantDataAccess.ReadOnly, ct);
        await using var batch = db.CreateBatch("SELECT count(*) FROM orders WHERE tenant_id = $1", db.Tenant.Value);
        return (long)(await batch.ExecuteScalarAsync(ct))!;
    }
    #endregion
}
