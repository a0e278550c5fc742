using System;
using System.Diagnostics;
using System.Linq;
using System.Threading.Tasks;
using Microsoft.Extensions.DependencyInjection;
using ScaleOps.Internal;
using ScaleOps.Migrations;
using ScaleOps.TestInfrastructure;

namespace ScaleOps.Core.Tests.Migrations;

public class MigrationTracingTests(PostgresDatabase database) : IClassFixture<PostgresDatabase>
{
    private const string TestSource = "ScaleOps.Core.Tests.MigrationTracing";
    private static readonly ActivitySource Test = new(TestSource);

    [Fact]
    public async Task A_migration_run_is_traced_with_what_it_applied_or_why_it_failed()
    {
        using var recorder = new ActivityRecorder(TestSource);
        var stopped = recorder.Stopped;

        // Other tests migrate at the same time: this test's runs are the ones under its own root activity.
        ActivityTraceId trace;
        using (var root = Test.StartActivity("root"))
        {
            trace = root!.TraceId;
            var ok = new MigrationSet("traced", [new MigrationScript(1, "one", "CREATE TABLE {{schema}}.t1 (id int);", "t1"),
                new MigrationScript(2, "two", "CREATE TABLE {{schema}}.t2 (id int);", "t2")]);
            await using (var provider = Provider("mtr_ok", ok))
            {
                await provider.GetRequiredService<IScaleOpsMigrator>().MigrateAsync();
            }

            var broken = new MigrationSet("traced", [new MigrationScript(1, "broken", "SELECT 1/0;", "b1")]);
            await using var failing = Provider("mtr_fail", broken);
            await Assert.ThrowsAsync<MigrationException>(() => failing.GetRequiredService<IScaleOpsMigrator>().MigrateAsync());
        }

        var runs = stopped.Where(a => a.TraceId == trace && a.OperationName == "ScaleOps.Migrations").ToList();
        Assert.Equal(2, runs.Count);
        Assert.Equal(2, runs[0].GetTagItem("scaleops.migrations.applied"));
        Assert.Equal(ActivityStatusCode.Unset, runs[0].Status);
        Assert.Equal(ActivityStatusCode.Error, runs[1].Status);
        Assert.Contains("traced/0001_broken", runs[1].StatusDescription, StringComparison.Ordinal);
    }

    private ServiceProvider Provider(string schema, MigrationSet set)
    {
        var services = new ServiceCollection();
        services.AddLogging();
        services.AddScaleOps(o =>
        {
            o.ConnectionString = database.ConnectionString;
            o.Schema = schema;
        });
        services.AddSingleton(set);
        return services.BuildServiceProvider();
    }
}
