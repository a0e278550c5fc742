using System;
using System.Collections.Concurrent;
using System.Text;
using System.Threading;
using System.Threading.Tasks;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using ScaleOps.Jobs.Internal;
using ScaleOps.Jobs.Tests.Support;
using ScaleOps.Migrations;
using ScaleOps.TestInfrastructure;

namespace ScaleOps.Jobs.Tests;

/// <summary>NOTIFY channels are database-wide: each ScaleOps schema has its own, so two schemas do not wake each other.</summary>
public class NotifyChannelTests(JobsDatabase database) : IClassFixture<JobsDatabase>
{
    [Fact]
    public async Task Each_schema_notifies_its_own_channel()
    {
        const string OtherSchema = "scaleops_other";
        var services = new ServiceCollection();
        services.AddLogging();
        services.AddScaleOps(o =>
        {
            o.ConnectionString = database.ConnectionString;
            o.Schema = OtherSchema;
        }).AddJobs();
        await using (var provider = services.BuildServiceProvider())
        {
            await provider.GetRequiredService<IScaleOpsMigrator>().MigrateAsync();
        }

        // The test listens on both schemas' channels on one connection.
        await using var listener = await database.DataSource.OpenConnectionAsync();
        var heard = new ConcurrentQueue<(string Channel, string Payload)>();
        listener.Notification += (_, e) => heard.Enqueue((e.Channel, e.Payload));
        await using (var listen = new NpgsqlCommand("LISTEN \"scaleops_jobs:scaleops\"; LISTEN \"scaleops_jobs:scaleops_other\"", listener))
        {
            await listen.ExecuteNonQueryAsync();
        }

        await using (var other = await JobsHost.StartAsync(database.ConnectionString, o => o.RunWorker = false, services: s => s.Configure<ScaleOpsOptions>(o => o.Schema = OtherSchema)))
        {
            await other.Client.EnqueueAsync(new Ping(1), new JobOptions { Queue = "from-other" });
        }

        await using (var client = await JobsHost.StartAsync(database.ConnectionString, o => o.RunWorker = false))
        {
            await client.Client.EnqueueAsync(new Ping(2), new JobOptions { Queue = "from-default" });
        }

        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        while (heard.Count < 2)
        {
            await listener.WaitAsync(timeout.Token);
        }

        Assert.Equal([("scaleops_jobs:scaleops_other", "from-other"), ("scaleops_jobs:scaleops", "from-default")], heard.ToArray());
        Assert.Equal(1L, await database.ScalarAsync<long>($"SELECT count(*) FROM {OtherSchema}.jobs WHERE queue = 'from-other'"));
    }

    [Fact]
    public void A_channel_too_long_for_a_name_is_a_hash_of_the_schema()
    {
        var a = JobsDefaults.Channel(new string('a', 60));
        var b = JobsDefaults.Channel(new string('a', 59) + "b");
        Assert.StartsWith("scaleops_jobs:#", a, StringComparison.Ordinal);
        Assert.NotEqual(a, b);
        Assert.True(Encoding.UTF8.GetByteCount(a) <= 63);
        Assert.Equal("scaleops_jobs:tenant \"x\"", JobsDefaults.Channel("tenant \"x\""));
    }
}
