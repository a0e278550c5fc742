using System.Threading.Tasks;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Migrations;
using Microsoft.Extensions.DependencyInjection;
using ScaleOps.Rls.EntityFrameworkCore;
using ScaleOps.Rls.Tests.Support;

namespace ScaleOps.Rls.Tests;

/// <summary>
/// Services often run <c>Database.Migrate()</c> at start through the context they registered, interceptor included.
/// A migration's statement that cannot run in a transaction block (CREATE INDEX CONCURRENTLY, with suppressTransaction)
/// must not be turned into a two-statement batch, which PostgreSQL runs as one implicit transaction.
/// </summary>
public class EfMigrationsTests(RlsDatabase database) : IClassFixture<RlsDatabase>
{
    [Fact]
    public async Task EF_Core_migrations_run_through_the_interceptor_including_a_concurrent_index_build()
    {
        await using var services = RlsDatabase.Services(database.AppConnectionString());
        await using var db = new MigratedContext(new DbContextOptionsBuilder<MigratedContext>()
            .UseNpgsql(database.ConnectionString) // the owner runs migrations; the interceptor is the application's
            .AddInterceptors(services.GetRequiredService<RlsDbCommandInterceptor>())
            .Options);

        await db.Database.MigrateAsync();

        await using var check = database.DataSource.CreateCommand(
            "SELECT i.indisvalid FROM pg_index i WHERE i.indexrelid = 'public.ef_migrated_tenant'::regclass");
        Assert.Equal(true, await check.ExecuteScalarAsync());
    }
}

public sealed class MigratedContext(DbContextOptions<MigratedContext> options) : DbContext(options);

[DbContext(typeof(MigratedContext))]
[Migration("20261207000000_ConcurrentIndex")]
public sealed class ConcurrentIndexMigration : Migration
{
    protected override void Up(MigrationBuilder migrationBuilder)
    {
        migrationBuilder.Sql("CREATE TABLE ef_migrated (id bigint PRIMARY KEY, tenant_id text NOT NULL)");
        migrationBuilder.Sql("CREATE INDEX CONCURRENTLY ef_migrated_tenant ON ef_migrated (tenant_id)", suppressTransaction: true);
    }
}
