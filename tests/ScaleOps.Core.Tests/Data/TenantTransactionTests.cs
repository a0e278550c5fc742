using System.Threading.Tasks;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using ScaleOps.Data;
using ScaleOps.Tenancy;
using ScaleOps.TestInfrastructure;

namespace ScaleOps.Core.Tests.Data;

public class TenantTransactionTests(PostgresDatabase database) : IClassFixture<PostgresDatabase>
{
    private async Task<ServiceProvider> ServicesAsync(string table)
    {
        await using (var setup = database.DataSource.CreateCommand(
            $"CREATE TABLE {table} (id int, CONSTRAINT {table}_once UNIQUE (id) DEFERRABLE INITIALLY DEFERRED); INSERT INTO {table} VALUES (1)"))
        {
            await setup.ExecuteNonQueryAsync();
        }

        var services = new ServiceCollection();
        services.AddScaleOps(o => o.ConnectionString = database.ConnectionString);
        return services.BuildServiceProvider();
    }

    [Fact]
    public async Task A_commit_that_fails_surfaces_its_own_error_not_one_from_the_dispose()
    {
        // A deferred constraint fails at COMMIT: PostgreSQL has rolled back, and the dispose that follows must not try
        // again (Npgsql's InvalidOperationException 'This NpgsqlTransaction has completed' hid the 23505).
        await using var services = await ServicesAsync("deferred_once");
        using var scope = services.GetRequiredService<ITenantContext>().BeginScope(new TenantId("acme"));
        var data = services.GetRequiredService<ITenantDataSource>();

        var ex = await Assert.ThrowsAsync<PostgresException>(async () =>
        {
            await using var tx = await data.BeginTransactionAsync();
            await using var insert = tx.CreateCommand("INSERT INTO deferred_once VALUES (1)");
            await insert.ExecuteNonQueryAsync();
            await tx.CommitAsync();
        });
        Assert.Equal(PostgresErrorCodes.UniqueViolation, ex.SqlState);
    }

    [Fact]
    public async Task Committing_through_the_npgsql_transaction_then_disposing_keeps_the_work()
    {
        // The transaction is handed to Dapper, EF Core and Jobs; a commit made through it ends the transaction as well.
        await using var services = await ServicesAsync("direct_commit");
        using var scope = services.GetRequiredService<ITenantContext>().BeginScope(new TenantId("acme"));
        var data = services.GetRequiredService<ITenantDataSource>();

        await using (var tx = await data.BeginTransactionAsync())
        {
            await using var insert = tx.CreateCommand("INSERT INTO direct_commit VALUES (2)");
            await insert.ExecuteNonQueryAsync();
            await tx.Transaction.CommitAsync();
        }

        await using (var tx = await data.BeginTransactionAsync())
        {
            await using var insert = tx.CreateCommand("INSERT INTO direct_commit VALUES (3)");
            await insert.ExecuteNonQueryAsync();
        }

        await using var count = database.DataSource.CreateCommand("SELECT string_agg(id::text, ',' ORDER BY id) FROM direct_commit");
        Assert.Equal("1,2", await count.ExecuteScalarAsync());
    }
}
