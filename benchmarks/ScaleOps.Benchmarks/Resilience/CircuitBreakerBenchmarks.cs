using System.Threading.Tasks;
using BenchmarkDotNet.Attributes;
using Microsoft.Extensions.DependencyInjection;
using Polly;
using Polly.CircuitBreaker;
using ScaleOps.Resilience.CircuitBreakers;

namespace ScaleOps.Benchmarks.Resilience;

/// <summary>
/// The overhead of a closed breaker on a call that completes synchronously: a bare call (baseline), Polly.Core alone
/// (a circuit breaker pipeline), and the ScaleOps registry's pipeline, fetched once or looked up by name per call.
/// </summary>
[MemoryDiagnoser]
[MedianColumn, MinColumn, MaxColumn]
public class CircuitBreakerBenchmarks
{
    private ResiliencePipeline _polly = null!;
    private ResiliencePipeline _scaleOps = null!;
    private CircuitBreakerRegistry _registry = null!;
    private ServiceProvider _services = null!;

    [GlobalSetup]
    public void Setup()
    {
        _polly = new ResiliencePipelineBuilder().AddCircuitBreaker(new CircuitBreakerStrategyOptions()).Build();
        var services = new ServiceCollection();
        services.AddLogging();
        services.AddScaleOps(o => o.ConnectionString = "Host=127.0.0.1").AddResilience();
        _services = services.BuildServiceProvider();
        _registry = _services.GetRequiredService<CircuitBreakerRegistry>();
        _scaleOps = _registry.GetPipeline(CircuitBreakerNames.Http);
    }

    [GlobalCleanup]
    public void Cleanup() => _services.Dispose();

    private static ValueTask<int> Work(int x) => ValueTask.FromResult(x + 1);

    [Benchmark(Baseline = true, Description = "bare call")]
    public ValueTask<int> Bare() => Work(41);

    [Benchmark(Description = "Polly.Core circuit breaker alone")]
    public ValueTask<int> PollyAlone() => _polly.ExecuteAsync(static (s, _) => Work(s), 41);

    [Benchmark(Description = "ScaleOps breaker (pipeline held)")]
    public ValueTask<int> ScaleOpsHeld() => _scaleOps.ExecuteAsync(static (s, _) => Work(s), 41);

    [Benchmark(Description = "ScaleOps breaker (looked up by name per call)")]
    public ValueTask<int> ScaleOpsByName() => _registry.GetPipeline(CircuitBreakerNames.Http).ExecuteAsync(static (s, _) => Work(s), 41);
}
