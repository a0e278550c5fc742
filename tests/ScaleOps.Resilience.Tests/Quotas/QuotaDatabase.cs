using System.Threading.Tasks;
using Microsoft.Extensions.DependencyInjection;
using ScaleOps.Migrations;
using ScaleOps.TestInfrastructure;

namespace ScaleOps.Resilience.Tests.Quotas;

/// <summary>A database per test class whose template already has the Resilience migrations applied.</summary>
public sealed class QuotaDatabase : PostgresDatabase
{
    protected override async Task InitializeTemplateAsync(string templateDatabase)
    {
        await using var sp = TestHost.Build(_ => { }, postgres: PostgresServer.ConnectionStringFor(templateDatabase, pooling: false));
        await sp.GetRequiredService<IScaleOpsMigrator>().MigrateAsync();
    }
}
