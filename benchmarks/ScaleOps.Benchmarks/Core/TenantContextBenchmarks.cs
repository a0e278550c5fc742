using System.Threading;
using BenchmarkDotNet.Attributes;
using Microsoft.Extensions.DependencyInjection;
using ScaleOps.Tenancy;

namespace ScaleOps.Benchmarks.Core;

/// <summary>
/// The cost of entering and leaving a tenant scope, the one thing every request and job does, against a bare
/// <see cref="AsyncLocal{T}"/> set and reset (the floor).
/// </summary>
[MemoryDiagnoser]
public class TenantContextBenchmarks
{
    private static readonly AsyncLocal<string?> Bare = new();
    private readonly TenantId _tenant = new("acme");
    private ITenantContext _context = null!;

    [GlobalSetup]
    public void Setup() =>
        _context = new ServiceCollection().AddScaleOps().Services.BuildServiceProvider().GetRequiredService<ITenantContext>();

    [Benchmark(Baseline = true)]
    public string? BareAsyncLocal()
    {
        Bare.Value = "acme";
        var value = Bare.Value;
        Bare.Value = null;
        return value;
    }

    [Benchmark]
    public TenantId ScopeBeginReadDispose()
    {
        using var scope = _context.BeginScope(_tenant);
        return _context.RequireTenant();
    }

    [Benchmark]
    public TenantId ParseTenantId() => TenantId.Parse("3f2504e0-4f89-11d3-9a0c-0305e82c3301");
}
