using System;
using System.Linq;
using System.Threading.Tasks;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Npgsql;
using ScaleOps.Data;
using ScaleOps.Rls.EntityFrameworkCore;
using ScaleOps.Rls.Tests.Support;
using ScaleOps.Tenancy;
using ScaleOps.TestInfrastructure;

namespace ScaleOps.Rls.Tests;

/// <summary>ScaleOps:Schema other than the default, end to end: the migration, the context call of every API.</summary>
public class CustomSchemaTests(RlsDatabase database) : IClassFixture<RlsDatabase>
{
    [Fact]
    public async Task With_a_hostile_schema_name_the_context_procedure_is_migrated_there_and_every_api_reaches_it()
    {
        const string Schema = "Ops \"x\"; DROP";
        await PostgresServer.ExecuteAsync($"GRANT CREATE ON DATABASE \"{database.Name}\" TO {RlsDatabase.AppRole}", database.Name);
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Services.AddScaleOps(o =>
        {
            o.ConnectionString = database.AppConnectionString();
            o.Schema = Schema; // migrated on start, as the application role
        }).AddRls(o =>
        {
            foreach (var table in RlsDatabase.Tables())
            {
                o.Tables.Add(table);
            }

            o.ApplyPoliciesOnStart = false;
        }).AddRlsEntityFrameworkCore();
        using var host = builder.Build();
        await host.StartAsync();

        await using (var admin = await PostgresServer.OpenAdminAsync(database.Name))
        await using (var command = new NpgsqlCommand("SELECT to_regprocedure(format('%I.rls_set_context(text,text,text[])', $1::text)) IS NOT NULL", admin))
        {
            command.Parameters.Add(new NpgsqlParameter { Value = Schema });
            Assert.Equal(true, await command.ExecuteScalarAsync());
        }

        var data = host.Services.GetRequiredService<ITenantDataSource>();
        using var scope = host.Services.GetRequiredService<ITenantContext>().BeginScope(new TenantId("t03"));
        await using (var connection = await data.OpenConnectionAsync())
        await using (var batch = connection.CreateBatch("SELECT count(*) FROM documents"))
        {
            Assert.Equal(3L, await batch.ExecuteScalarAsync());
        }

        await using (var tx = await data.BeginTransactionAsync())
        await using (var command = tx.CreateCommand("SELECT count(*) FROM documents"))
        {
            Assert.Equal(3L, await command.ExecuteScalarAsync());
        }

        await using var db = new DocumentsContext(new DbContextOptionsBuilder<DocumentsContext>()
            .UseNpgsql(host.Services.GetRequiredService<NpgsqlDataSource>())
            .AddInterceptors(host.Services.GetRequiredService<RlsDbCommandInterceptor>())
            .Options);
        Assert.Equal(["t03"], await db.Documents.Select(d => d.TenantId).Distinct().ToListAsync());
        var document = await db.Documents.OrderBy(d => d.Id).FirstAsync();
        document.Title = "renamed under a custom schema";
        Assert.Equal(1, await db.SaveChangesAsync());
        await host.StopAsync();
    }
}
