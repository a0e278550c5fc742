using System.Collections.Generic;
using System.Linq;
using System.Threading.Tasks;
using Dapper;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using ScaleOps.Data;
using ScaleOps.Rls.EntityFrameworkCore;
using ScaleOps.Tenancy;

namespace ScaleOps.Rls.Tests.Support;

/// <summary>The four ways to reach PostgreSQL through the package, for suites that must hold on each.</summary>
public enum Api
{
    Batch,
    ReadOnlyBatch,
    Transaction,
    Dapper,
    EfCore,
}

/// <summary>Runs the same read or write through each <see cref="Api"/>, as the ambient tenant.</summary>
public sealed class RlsApis(ServiceProvider services)
{
    public ITenantDataSource Data { get; } = services.GetRequiredService<ITenantDataSource>();

    public ITenantContext Tenants { get; } = services.GetRequiredService<ITenantContext>();

    public NpgsqlDataSource Raw { get; } = services.GetRequiredService<NpgsqlDataSource>();

    public DocumentsContext NewContext() => new(new DbContextOptionsBuilder<DocumentsContext>()
        .UseNpgsql(Raw)
        .AddInterceptors(services.GetRequiredService<RlsDbCommandInterceptor>())
        .Options);

    /// <summary>A context on a connection the test already holds (a tenant transaction's), with the interceptor.</summary>
    public DocumentsContext NewContext(NpgsqlConnection connection) => new(new DbContextOptionsBuilder<DocumentsContext>()
        .UseNpgsql(connection)
        .AddInterceptors(services.GetRequiredService<RlsDbCommandInterceptor>())
        .Options);

    /// <summary>The tenant ids of every document the API lets the ambient tenant see.</summary>
    public async Task<List<string>> ReadTenantsAsync(Api api)
    {
        const string sql = "SELECT tenant_id FROM documents";
        switch (api)
        {
            case Api.Batch:
            case Api.ReadOnlyBatch:
            {
                await using var connection = await Data.OpenConnectionAsync(api == Api.Batch ? TenantDataAccess.ReadWrite : TenantDataAccess.ReadOnly);
                await using var batch = connection.CreateBatch(sql);
                return await ReadAllAsync(batch);
            }

            case Api.Transaction:
            {
                await using var tx = await Data.BeginTransactionAsync();
                await using var command = tx.CreateCommand(sql);
                var result = new List<string>();
                await using (var reader = await command.ExecuteReaderAsync())
                {
                    while (await reader.ReadAsync())
                    {
                        result.Add(reader.GetString(0));
                    }
                }

                await tx.CommitAsync();
                return result;
            }

            case Api.Dapper:
            {
                await using var tx = await Data.BeginTransactionAsync();
                var result = (await tx.Connection.QueryAsync<string>(sql, transaction: tx.Transaction)).ToList();
                await tx.CommitAsync();
                return result;
            }

            default:
            {
                await using var db = NewContext();
                return await db.Documents.Select(d => d.TenantId).ToListAsync();
            }
        }
    }

    /// <summary>Runs one write statement (named parameters @a, @b) through the API; returns the rows affected.</summary>
    public async Task<int> ExecuteAsync(Api api, string sql, object? parameters = null)
    {
        switch (api)
        {
            case Api.Batch:
            case Api.ReadOnlyBatch:
            {
                await using var connection = await Data.OpenConnectionAsync();
                await using var batch = connection.CreateBatch();
                var command = new NpgsqlBatchCommand(sql);
                foreach (var (name, value) in Parameters(parameters))
                {
                    command.Parameters.AddWithValue(name, value);
                }

                batch.BatchCommands.Add(command);
                return await batch.ExecuteNonQueryAsync();
            }

            case Api.Transaction:
            {
                await using var tx = await Data.BeginTransactionAsync();
                await using var command = tx.CreateCommand(sql);
                foreach (var (name, value) in Parameters(parameters))
                {
                    command.Parameters.AddWithValue(name, value);
                }

                var affected = await command.ExecuteNonQueryAsync();
                await tx.CommitAsync();
                return affected;
            }

            case Api.Dapper:
            {
                await using var tx = await Data.BeginTransactionAsync();
                var affected = await tx.Connection.ExecuteAsync(sql, parameters, tx.Transaction);
                await tx.CommitAsync();
                return affected;
            }

            default:
            {
                await using var db = NewContext();
                var values = Parameters(parameters).Select(p => (object)new NpgsqlParameter(p.Name, p.Value)).ToArray();
                return await db.Database.ExecuteSqlRawAsync(sql, values);
            }
        }
    }

    private static IEnumerable<(string Name, object Value)> Parameters(object? parameters) =>
        parameters is null ? [] : parameters.GetType().GetProperties().Select(p => (p.Name, p.GetValue(parameters)!));

    private static async Task<List<string>> ReadAllAsync(NpgsqlBatch batch)
    {
        var result = new List<string>();
        await using var reader = await batch.ExecuteReaderAsync();
        while (await reader.ReadAsync())
        {
            result.Add(reader.GetString(0));
        }

        return result;
    }
}
