using System;
using System.Threading;
using System.Threading.Tasks;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Npgsql;
using ScaleOps.Jobs;

namespace ScaleOps.Jobs.TestWorker;

/// <summary>A job whose every attempt is recorded in <c>work_runs</c> before the handler waits <see cref="DelayMs"/>.</summary>
[JobKind("test.work")]
public sealed record Work(int N, int DelayMs);

public sealed class WorkHandler(NpgsqlDataSource dataSource) : IJobHandler<Work>
{
    public async Task HandleAsync(Work payload, JobContext context, CancellationToken cancellationToken)
    {
        await using (var command = dataSource.CreateCommand("INSERT INTO work_runs (job_id, n, attempt, pid) VALUES ($1, $2, $3, $4)"))
        {
            command.Parameters.Add(new NpgsqlParameter<long> { TypedValue = context.Id });
            command.Parameters.Add(new NpgsqlParameter<int> { TypedValue = payload.N });
            command.Parameters.Add(new NpgsqlParameter<int> { TypedValue = context.Attempt });
            command.Parameters.Add(new NpgsqlParameter<int> { TypedValue = Environment.ProcessId });
            await command.ExecuteNonQueryAsync(cancellationToken);
        }

        await Task.Delay(TimeSpan.FromMilliseconds(payload.DelayMs), TimeProvider.System, cancellationToken);
    }
}

public static class Program
{
    /// <summary>
    /// Usage: ScaleOps.Jobs.TestWorker CONNECTION_STRING CONCURRENCY LEASE_SECONDS. LEASE_SECONDS <c>config</c> leaves
    /// <c>LeaseDuration</c> and <c>RescueInterval</c> to the configuration: environment variables such as
    /// <c>ScaleOps__Jobs__LeaseDuration</c>.
    /// </summary>
    public static async Task<int> Main(string[] args)
    {
        if (args.Length != 3)
        {
            await Console.Error.WriteLineAsync("usage: ScaleOps.Jobs.TestWorker CONNECTION_STRING CONCURRENCY LEASE_SECONDS");
            return 2;
        }

        var builder = Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings());
        builder.Configuration.AddEnvironmentVariables();
        builder.Logging.AddConsole().SetMinimumLevel(LogLevel.Warning);
        builder.Services.AddScaleOps(o => o.ConnectionString = args[0])
            .AddJobs(o =>
            {
                o.Queues["work"] = new QueueOptions { Concurrency = int.Parse(args[1], System.Globalization.CultureInfo.InvariantCulture) };
                if (args[2] != "config")
                {
                    o.LeaseDuration = TimeSpan.FromSeconds(int.Parse(args[2], System.Globalization.CultureInfo.InvariantCulture));
                    o.RescueInterval = TimeSpan.FromMilliseconds(500);
                }

                o.PollInterval = TimeSpan.FromMilliseconds(200);
            })
            .AddHandler<Work, WorkHandler>();
        using var host = builder.Build();
        await host.StartAsync();
        Console.WriteLine("ready");
        await host.WaitForShutdownAsync();
        return 0;
    }
}
