using System;
using System.Threading.Tasks;
using BenchmarkDotNet.Attributes;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using ScaleOps.Data;
using ScaleOps.Tenancy;

namespace ScaleOps.Benchmarks.Rls;

/// <summary>
/// Whole requests (open a pooled connection, run one query, read every row, return the connection) for a small tenant
/// and the whale on the skewed data set (<see cref="RlsBenchmarkData"/>). The baseline is the same query with an
/// explicit <c>WHERE tenant_id = $1</c> as a role that bypasses RLS; the others have no tenant predicate and rely on
/// the policy: ours (the package's API: context in the same round trip), the same policy wrapped in a sub-select,
/// the naive BEGIN / set_config / query / COMMIT round trips, and a membership sub-query policy.
/// </summary>
[MemoryDiagnoser]
[SimpleJob(launchCount: 1, warmupCount: 3, iterationCount: 9)]
[IterationTime(250)]
public class RlsRequestBenchmarks
{
    private ServiceProvider _services = null!;
    private ITenantDataSource _tenantData = null!;
    private ITenantContext _context = null!;
    private NpgsqlDataSource _plain = null!;
    private NpgsqlDataSource _naive = null!;
    private TenantScope? _scope;
    private ServiceProvider _wrappedServices = null!;
    private ServiceProvider _memberServices = null!;
    private Guid _tenant;
    private long _pointId;

    [Params("small", "whale")]
    public string Tenant { get; set; } = "small";

    [Params("latest50", "point", "count30")]
    public string Query { get; set; } = "latest50";

    private string Sql(bool explicitWhere) => (Query, explicitWhere) switch
    {
        ("latest50", true) => "SELECT id, created_at, payload FROM events WHERE tenant_id = $1 ORDER BY created_at DESC LIMIT 50",
        ("latest50", false) => "SELECT id, created_at, payload FROM events ORDER BY created_at DESC LIMIT 50",
        ("point", true) => "SELECT id, created_at, payload FROM events WHERE tenant_id = $1 AND id = $2",
        ("point", false) => "SELECT id, created_at, payload FROM events WHERE id = $1",
        ("count30", true) => "SELECT count(*) FROM events WHERE tenant_id = $1 AND created_at >= $2",
        _ => "SELECT count(*) FROM events WHERE created_at >= $1",
    };

    private object? Argument => Query switch
    {
        "point" => _pointId,
        "count30" => RlsBenchmarkData.Now.AddDays(-30),
        _ => null,
    };

    [GlobalSetup]
    public void Setup()
    {
        RlsBenchmarkData.EnsureAsync().GetAwaiter().GetResult();
        _services = Build("bench_app");
        _wrappedServices = Build("bench_wrapped");
        _memberServices = Build("bench_member");
        _tenantData = _services.GetRequiredService<ITenantDataSource>();
        _context = _services.GetRequiredService<ITenantContext>();
        _plain = NpgsqlDataSource.Create(RlsBenchmarkData.ConnectionString("bench_plain"));
        _naive = NpgsqlDataSource.Create(RlsBenchmarkData.ConnectionString("bench_app"));

        var rank = Tenant == "whale" ? 1 : 1000;
        using var command = _plain.CreateCommand(
            "SELECT t.id, (SELECT max(e.id) FROM events e WHERE e.tenant_id = t.id) FROM tenants t WHERE t.rank = $1");
        command.Parameters.Add(new NpgsqlParameter<int> { TypedValue = rank });
        using var reader = command.ExecuteReader();
        reader.Read();
        _tenant = reader.GetGuid(0);
        _pointId = reader.GetInt64(1);
        _scope = _context.BeginScope(new TenantId(_tenant.ToString()), userId: MemberOf(rank));
    }

    private static string MemberOf(int rank)
    {
        var hash = System.Security.Cryptography.MD5.HashData(System.Text.Encoding.UTF8.GetBytes($"member-of-{rank}"));
        return new Guid(Convert.ToHexString(hash)).ToString();
    }

    private static ServiceProvider Build(string role)
    {
        var services = new ServiceCollection();
        services.AddLogging();
        services.AddScaleOps(o =>
        {
            o.ConnectionString = RlsBenchmarkData.ConnectionString(role);
            o.ApplyMigrationsOnStart = false;
        }).AddRls(o => o.VerifyOnStart = false);
        return services.BuildServiceProvider();
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _scope?.Dispose();
        _services.Dispose();
        _wrappedServices.Dispose();
        _memberServices.Dispose();
        _plain.Dispose();
        _naive.Dispose();
    }

    [Benchmark(Baseline = true, Description = "explicit WHERE, no RLS")]
    public async Task<long> ExplicitWhereNoRls()
    {
        await using var connection = await _plain.OpenConnectionAsync();
        await using var command = new NpgsqlCommand(Sql(explicitWhere: true), connection);
        command.Parameters.Add(new NpgsqlParameter { Value = _tenant });
        if (Argument is { } argument)
        {
            command.Parameters.Add(new NpgsqlParameter { Value = argument });
        }

        await using var reader = await command.ExecuteReaderAsync();
        return await DrainAsync(reader);
    }

    [Benchmark(Description = "ScaleOps.Rls (context in the batch)")]
    public Task<long> Ours() => ThroughApiAsync(_tenantData);

    [Benchmark(Description = "ScaleOps.Rls, sub-select-wrapped policy")]
    public Task<long> OursWrappedPolicy() => ThroughApiAsync(_wrappedServices.GetRequiredService<ITenantDataSource>());

    [Benchmark(Description = "naive BEGIN; set_config; query; COMMIT")]
    public async Task<long> NaiveRoundTrips()
    {
        await using var connection = await _naive.OpenConnectionAsync();
        await using (var begin = new NpgsqlCommand("BEGIN", connection))
        {
            await begin.ExecuteNonQueryAsync();
        }

        await using (var set = new NpgsqlCommand("SELECT set_config('app.tenant_id', $1, true)", connection))
        {
            set.Parameters.Add(new NpgsqlParameter { Value = _tenant.ToString() });
            await set.ExecuteNonQueryAsync();
        }

        long rows;
        await using (var command = new NpgsqlCommand(Sql(explicitWhere: false), connection))
        {
            if (Argument is { } argument)
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

    [Benchmark(Description = "membership sub-query policy")]
    public Task<long> MembershipPolicy() => ThroughApiAsync(_memberServices.GetRequiredService<ITenantDataSource>());

    private async Task<long> ThroughApiAsync(ITenantDataSource data)
    {
        await using var connection = await data.OpenConnectionAsync();
        await using var batch = Argument is { } argument ? connection.CreateBatch(Sql(explicitWhere: false), argument) : connection.CreateBatch(Sql(explicitWhere: false));
        await using var reader = await batch.ExecuteReaderAsync();
        return await DrainAsync(reader);
    }

    private static async Task<long> DrainAsync(NpgsqlDataReader reader)
    {
        long rows = 0;
        while (await reader.ReadAsync())
        {
            rows += reader.FieldCount;
        }

        return rows;
    }
}
