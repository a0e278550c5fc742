using System;
using System.Threading.Tasks;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using ScaleOps.Data;
using ScaleOps.Tenancy;
using ScaleOps.TestInfrastructure;

namespace ScaleOps.Core.Tests.Data;

public class TenantDataSourceTests(PostgresDatabase database) : IClassFixture<PostgresDatabase>
{
    private ServiceProvider Services()
    {
        var services = new ServiceCollection();
        services.AddScaleOps(o => o.ConnectionString = database.ConnectionString);
        return services.BuildServiceProvider();
    }

    [Fact]
    public async Task The_default_needs_a_tenant_and_sends_no_context()
    {
        await using var services = Services();
        var data = services.GetRequiredService<ITenantDataSource>();
        await Assert.ThrowsAsync<TenantRequiredException>(async () => await data.OpenConnectionAsync());
        await Assert.ThrowsAsync<TenantRequiredException>(async () => await data.BeginTransactionAsync());

        using var scope = services.GetRequiredService<ITenantContext>().BeginScope(new TenantId("acme"));
        await using var connection = await data.OpenConnectionAsync(TenantDataAccess.ReadOnly);
        Assert.Equal(new TenantId("acme"), connection.Tenant);
        await using var batch = connection.CreateBatch("SELECT $1::int + 1, current_setting('app.tenant_id', true)", 41);
        Assert.Single(batch.BatchCommands);
        await using var reader = await batch.ExecuteReaderAsync();
        Assert.True(await reader.ReadAsync());
        Assert.Equal(42, reader.GetInt32(0));
        Assert.True(reader.IsDBNull(1));
    }

    [Fact]
    public async Task A_tenant_transaction_commits_or_rolls_back_on_dispose()
    {
        await using var services = Services();
        var data = services.GetRequiredService<ITenantDataSource>();
        await using (var setup = database.DataSource.CreateCommand("CREATE TABLE notes (tenant_id text, body text)"))
        {
            await setup.ExecuteNonQueryAsync();
        }

        using var scope = services.GetRequiredService<ITenantContext>().BeginScope(new TenantId("acme"));
        await using (var tx = await data.BeginTransactionAsync())
        {
            await using var insert = tx.CreateCommand("INSERT INTO notes VALUES ('acme', 'kept')");
            await insert.ExecuteNonQueryAsync();
            await tx.CommitAsync();
        }

        await using (var tx = await data.BeginTransactionAsync())
        {
            await using var batch = tx.CreateBatch();
            batch.BatchCommands.Add(new NpgsqlBatchCommand("INSERT INTO notes VALUES ('acme', 'dropped')"));
            await batch.ExecuteNonQueryAsync();
        }

        await using var count = database.DataSource.CreateCommand("SELECT string_agg(body, ',') FROM notes");
        Assert.Equal("kept", await count.ExecuteScalarAsync());
    }

    [Fact]
    public void Bad_arguments_are_rejected_with_a_clear_message()
    {
        using var connection = new NpgsqlConnection();
        var ex = Assert.Throws<ArgumentException>(() => new TenantConnection(connection, default));
        Assert.Contains("default(TenantId) is not a tenant", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_context_command_shares_its_transaction_with_the_first_statement_even_with_error_barriers()
    {
        // With EnableErrorBarriers each command is its own implicit transaction unless told otherwise: a transaction-local
        // context ended with the context command, and the caller's statement ran without the tenant.
        await using var raw = await database.DataSource.OpenConnectionAsync();
        await using var connection = new TenantConnection(raw, new TenantId("acme"),
            () => new NpgsqlBatchCommand("DO $$ BEGIN PERFORM set_config('app.tenant_id', 'acme', true); END $$"));
        await using var batch = connection.CreateBatch("SELECT current_setting('app.tenant_id', true)");
        batch.EnableErrorBarriers = true;
        Assert.False(batch.BatchCommands[0].AppendErrorBarrier);
        Assert.Equal("acme", await batch.ExecuteScalarAsync());
    }
}
