using System;
using System.Threading.Tasks;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using ScaleOps.Benchmarks.Rls;
using ScaleOps.Data;
using ScaleOps.Tenancy;

namespace ScaleOps.RlsBench;

/// <summary>One way to run the request.</summary>
public sealed record Variant(string Name, string Role, bool Slow, Func<Task<long>> Run);

/// <summary>The variants of one tenant and query; the first is the baseline.</summary>
public sealed class Variants : IAsyncDisposable
{
    private readonly ServiceProvider[] _providers;
    private readonly NpgsqlDataSource[] _sources;

    private Variants(Variant[] all, ServiceProvider[] providers, NpgsqlDataSource[] sources)
    {
        All = all;
        _providers = providers;
        _sources = sources;
    }

    public Variant[] All { get; }

    public static async Task<Variants> CreateAsync(string tenantName, string query)
    {
        var plain = NpgsqlDataSource.Create(RlsBenchmarkData.ConnectionString("bench_plain"));
        var naive = NpgsqlDataSource.Create(RlsBenchmarkData.ConnectionString("bench_naive"));
        var rank = tenantName == "whale" ? 1 : 1000;
        Guid tenant;
        long pointId;
        string member;
        await using (var command = plain.CreateCommand(
            "SELECT t.id, (SELECT max(e.id) FROM events e WHERE e.tenant_id = t.id), md5('member-of-' || t.rank)::uuid FROM tenants t WHERE t.rank = $1"))
        {
            command.Parameters.Add(new NpgsqlParameter<int> { TypedValue = rank });
            await using var reader = await command.ExecuteReaderAsync();
            await reader.ReadAsync();
            tenant = reader.GetGuid(0);
            pointId = reader.GetInt64(1);
            member = reader.GetGuid(2).ToString();
        }

        object? argument = query switch
        {
            "point" => pointId,
            "count30" => RlsBenchmarkData.Now.AddDays(-30),
            _ => null,
        };
        string Sql(bool explicitWhere) => (query, explicitWhere) switch
        {
            ("latest50", true) => "SELECT id, created_at, payload FROM events WHERE tenant_id = $1 ORDER BY created_at DESC LIMIT 50",
            ("latest50", false) => "SELECT id, created_at, payload FROM events ORDER BY created_at DESC LIMIT 50",
            ("point", true) => "SELECT id, created_at, payload FROM events WHERE tenant_id = $1 AND id = $2",
            ("point", false) => "SELECT id, created_at, payload FROM events WHERE id = $1",
            ("count30", true) => "SELECT count(*) FROM events WHERE tenant_id = $1 AND created_at >= $2",
            _ => "SELECT count(*) FROM events WHERE created_at >= $1",
        };

        var ours = Build("bench_app");
        var wrapped = Build("bench_wrapped");
        var membership = Build("bench_member");
        var context = ours.GetRequiredService<ITenantContext>();
        var tenantId = new TenantId(tenant.ToString());

        async Task<long> Baseline()
        {
            await using var connection = await plain.OpenConnectionAsync();
            await using var command = new NpgsqlCommand(Sql(explicitWhere: true), connection);
            command.Parameters.Add(new NpgsqlParameter { Value = tenant });
            if (argument is not null)
            {
                command.Parameters.Add(new NpgsqlParameter { Value = argument });
            }

            await using var reader = await command.ExecuteReaderAsync();
            return await DrainAsync(reader);
        }

        // The request's tenant scope, as the HTTP middleware would begin it.
        async Task<long> Api(ITenantDataSource data)
        {
            using var scope = context.BeginScope(tenantId, member);
            await using var connection = await data.OpenConnectionAsync();
            await using var batch = argument is null ? connection.CreateBatch(Sql(false)) : connection.CreateBatch(Sql(false), argument);
            await using var reader = await batch.ExecuteReaderAsync();
            return await DrainAsync(reader);
        }

        async Task<long> Naive()
        {
            await using var connection = await naive.OpenConnectionAsync();
            await using (var begin = new NpgsqlCommand("BEGIN", connection))
            {
                await begin.ExecuteNonQueryAsync();
            }

            await using (var set = new NpgsqlCommand("SELECT set_config('app.tenant_id', $1, true)", connection))
            {
                set.Parameters.Add(new NpgsqlParameter { Value = tenant.ToString() });
                await set.ExecuteNonQueryAsync();
            }

            long rows;
            await using (var command = new NpgsqlCommand(Sql(explicitWhere: false), connection))
            {
                if (argument is not null)
                {
                    command.Parameters.Add(new NpgsqlParameter { Value = argument });
                }

                await using var reader = await command.ExecuteReaderAsync();
                rows = await DrainAsync(reader);
            }

            await using (var commit = new NpgsqlCommand("COMMIT", connection))
            {
                await commit.ExecuteNonQueryAsync();
            }

            return rows;
        }

        var oursData = ours.GetRequiredService<ITenantDataSource>();
        var wrappedData = wrapped.GetRequiredService<ITenantDataSource>();
        var memberData = membership.GetRequiredService<ITenantDataSource>();
        Variant[] all =
        [
            new("explicit WHERE, no RLS (baseline)", "bench_plain", false, Baseline),
            new("**ScaleOps.Rls** (context in the batch)", "bench_app", false, () => Api(oursData)),
            new("ScaleOps.Rls, sub-select-wrapped policy", "bench_wrapped", false, () => Api(wrappedData)),
            new("naive BEGIN; set_config; query; COMMIT", "bench_naive", false, Naive),
            new("membership sub-query policy", "bench_member", query != "point", () => Api(memberData)),
        ];
        return new Variants(all, [ours, wrapped, membership], [plain, naive]);
    }

    /// <summary>The ScaleOps services of one benchmark role (EF Core's interceptor registered too, for <c>--ef-save</c>).</summary>
    internal static ServiceProvider Build(string role)
    {
        var services = new ServiceCollection();
        services.AddLogging();
        services.AddScaleOps(o =>
        {
            o.ConnectionString = RlsBenchmarkData.ConnectionString(role);
            o.ApplyMigrationsOnStart = false;
        }).AddRls(o => o.VerifyOnStart = false).AddRlsEntityFrameworkCore();
        return services.BuildServiceProvider();
    }

    private static async Task<long> DrainAsync(NpgsqlDataReader reader)
    {
        long values = 0;
        while (await reader.ReadAsync())
        {
            values += reader.FieldCount;
        }

        return values;
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var provider in _providers)
        {
            await provider.DisposeAsync();
        }

        foreach (var source in _sources)
        {
            await source.DisposeAsync();
        }
    }
}
