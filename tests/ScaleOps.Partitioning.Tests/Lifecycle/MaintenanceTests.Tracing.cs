using System.Diagnostics;
using System.Linq;
using System.Threading.Tasks;
using ScaleOps.TestInfrastructure;

namespace ScaleOps.Partitioning.Tests.Lifecycle;

public partial class MaintenanceTests
{
    [Fact]
    public async Task A_maintenance_run_and_each_of_its_steps_are_traced_on_the_ScaleOps_activity_source()
    {
        using var recorder = new ActivityRecorder();
        var stopped = recorder.Stopped;
        var (host, _, maintenance) = await TableAsync("m_traced");
        using var _ = host;

        var result = await maintenance.RunMaintenanceAsync();

        // Other tests run maintenance at the same time: this run's steps are the ones naming its table.
        var steps = stopped.Where(a => a.OperationName == "ScaleOps.Partitioning.Step"
            && (string?)a.GetTagItem("scaleops.partitioning.table") == "\"public\".\"m_traced\"").ToList();
        Assert.Equal(result.Actions.Select(a => a.Partition).Order(), steps.Select(s => (string?)s.GetTagItem("scaleops.partitioning.partition")).Order());
        Assert.All(steps, s => Assert.Equal("Create", s.GetTagItem("scaleops.partitioning.step")));
        var run = Assert.Single(stopped, a => a.OperationName == "ScaleOps.Partitioning.Maintenance" && a.SpanId == steps[0].ParentSpanId);
        Assert.Equal(result.Actions.Count, run.GetTagItem("scaleops.partitioning.steps"));
        Assert.Equal(0, run.GetTagItem("scaleops.partitioning.failures"));
        Assert.Equal(ActivityStatusCode.Unset, run.Status);
    }
}
