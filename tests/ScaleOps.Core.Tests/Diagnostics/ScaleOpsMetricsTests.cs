using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using ScaleOps.Diagnostics;

namespace ScaleOps.Core.Tests.Diagnostics;

public class ScaleOpsMetricsTests
{
    [Fact]
    public void Packages_share_one_meter_named_ScaleOps()
    {
        using var provider = new ServiceCollection().AddScaleOps().Services.BuildServiceProvider();
        var metrics = provider.GetRequiredService<ScaleOpsMetrics>();
        Assert.Same(metrics, provider.GetRequiredService<ScaleOpsMetrics>());
        Assert.Equal(ScaleOpsDiagnostics.MeterName, metrics.Meter.Name);
        Assert.Equal("ScaleOps", metrics.Meter.Name);

        var counter = metrics.Meter.CreateCounter<long>("scaleops.test.things");
        using var collector = new MetricCollector<long>(counter);
        counter.Add(3);
        Assert.Equal(3, collector.GetMeasurementSnapshot().EvaluateAsCounter());
    }

    [Fact]
    public void Time_comes_from_DI()
    {
        using var provider = new ServiceCollection().AddScaleOps().Services.BuildServiceProvider();
        Assert.Same(System.TimeProvider.System, provider.GetRequiredService<System.TimeProvider>());
    }
}
