using System;
using System.Collections.Generic;
using System.Linq;
using System.Threading.Tasks;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Npgsql;
using ScaleOps.Rls.Internal;
using ScaleOps.Tenancy;

namespace ScaleOps.Rls.Tests.Support;

/// <summary>Applies policies, runs the start-up checks and reads as a tenant, for tests that declare their own tables.</summary>
public static class RlsChecks
{
    /// <summary>A policy manager for <paramref name="tables"/> that works as the database's owner (the superuser).</summary>
    public static RlsPolicyManager Manager(RlsDatabase database, params RlsTable[] tables) =>
        new(database.DataSource, Options.Create(OptionsFor(tables)), NullLogger<RlsPolicyManager>.Instance);

    /// <summary>The start-up checks for <paramref name="tables"/> as the application role (NOSUPERUSER NOBYPASSRLS).</summary>
    public static async Task<(List<string> Errors, List<string> Warnings)> SafetyAsync(RlsDatabase database, params RlsTable[] tables)
    {
        await using var app = NpgsqlDataSource.Create(database.AppConnectionString());
        return await SafetyChecks.RunAsync(app, OptionsFor(tables), "scaleops", NullLogger.Instance, default);
    }

    /// <summary>The rows of <paramref name="sql"/> (first column as text, sorted) as the application role in a scope.</summary>
    public static async Task<string[]> ReadAsAsync(RlsDatabase database, string sql, string tenant, string? user = null, params string[] roles)
    {
        await using var services = RlsDatabase.Services(database.AppConnectionString());
        var apis = new RlsApis(services);
        using var scope = apis.Tenants.BeginScope(new TenantId(tenant), user, roles);
        await using var connection = await apis.Data.OpenConnectionAsync();
        await using var batch = connection.CreateBatch(sql);
        await using var reader = await batch.ExecuteReaderAsync();
        var rows = new List<string>();
        while (await reader.ReadAsync())
        {
            rows.Add(reader.GetValue(0).ToString()!);
        }

        return [.. rows.Order(StringComparer.Ordinal)];
    }

    private static RlsOptions OptionsFor(RlsTable[] tables)
    {
        var options = new RlsOptions();
        foreach (var table in tables)
        {
            options.Tables.Add(table);
        }

        return options;
    }
}
