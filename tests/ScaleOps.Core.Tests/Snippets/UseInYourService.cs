using System;
using System.Threading;
using System.Threading.Tasks;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Npgsql;
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
        var dataSource = services.GetRequiredService<NpgsqlDataSource>();

        // Everything inside the scope (cache keys, jobs, RLS settings...) sees this tenant.
        using var scope = tenants.BeginScope(TenantId.Parse(tenant));
        await using var command = dataSource.CreateCommand("SELECT count(*) FROM orders WHERE tenant_id = $1");
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = tenants.RequireTenant().Value });
        return (long)(await command.ExecuteScalarAsync(ct))!;
    }
    #endregion
}
