using System;
using System.Threading.Tasks;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using ScaleOps.Jobs.Internal;
using ScaleOps.Jobs.Tests.Support;
using ScaleOps.TestInfrastructure;

namespace ScaleOps.Jobs.Tests.Reliability;

/// <summary>
/// The LISTEN connection idles for as long as no job is enqueued. A path that dies without a word (a failover that moved
/// the database's address, a NAT or firewall dropping the idle flow) never closes it: the wait for a notification hung
/// for good, and new jobs were found only by each queue's idle poll.
/// </summary>
public class ListenLivenessTests(JobsDatabase database) : IClassFixture<JobsDatabase>
{
    [Fact]
    public async Task A_LISTEN_connection_that_stops_answering_without_closing_is_replaced()
    {
        var real = new NpgsqlConnectionStringBuilder(database.ConnectionString);
        await using var proxy = new FaultyTcpProxy(real.Host!, real.Port, FaultyTcpProxy.ProxyMode.Forward);
        // A short command timeout: the fetch or heartbeat in flight when the path dies is bounded by it, not by 30 s.
        var proxied = new NpgsqlConnectionStringBuilder(database.ConnectionString) { Host = "127.0.0.1", Port = proxy.Port, CommandTimeout = 3 }.ToString();
        await using var host = await JobsHost.StartAsync(proxied, o =>
        {
            o.ListenLivenessInterval = TimeSpan.FromMilliseconds(200);
            o.ListenLivenessTimeoutSeconds = 1;
        });
        var notifier = host.Services.GetRequiredService<JobWorker>().Notifier!;
        await notifier.Listening.WaitAsync("the first LISTEN");
        var listens = notifier.Listens;

        proxy.StallExisting(); // the LISTEN connection stays open but nothing passes any more; new connections do
        host.Services.GetRequiredService<NpgsqlDataSource>().Clear(); // idle pooled connections are not the subject: new ones for the rest

        await TestSignal.UntilAsync(() => Task.FromResult(notifier.Listens > listens), "the notifier to LISTEN again on a new connection",
            TimeSpan.FromSeconds(60));

        // And the new LISTEN is the one that wakes the worker: a job enqueued on a connection of the test's is handled.
        var probe = host.Probe;
        await host.Client.EnqueueAsync(new Ping(1));
        await TestSignal.UntilAsync(() => Task.FromResult(probe.Count == 1), "the job to run");
    }
}
