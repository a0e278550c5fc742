using System;
using System.Collections.Generic;
using System.Linq;
using Microsoft.Extensions.Configuration;
using System.Threading.Tasks;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Time.Testing;
using ScaleOps.Internal;
using ScaleOps.Jobs.Internal;
using ScaleOps.TestInfrastructure;

namespace ScaleOps.Jobs.Tests.Support;

/// <summary>A real host with the job queue on a test database; dispose it to stop it gracefully.</summary>
public sealed class JobsHost : IAsyncDisposable
{
    private readonly IHost _host;

    private JobsHost(IHost host) => _host = host;

    public IServiceProvider Services => _host.Services;

    public IJobClient Client => Services.GetRequiredService<IJobClient>();

    public IJobAdmin Admin => Services.GetRequiredService<IJobAdmin>();

    public Probe Probe => Services.GetRequiredService<Probe>();

    /// <summary>Starts a host. Defaults suit tests: short poll, lease and retry delays.</summary>
    public static async Task<JobsHost> StartAsync(
        string connectionString, Action<JobsOptions>? configure = null, Action<IJobsBuilder>? jobs = null, Probe? probe = null,
        Action<IServiceCollection>? services = null, IReadOnlyDictionary<string, string?>? settings = null)
    {
        var builder = Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings());
        if (settings is not null)
        {
            builder.Configuration.AddInMemoryCollection(settings); // appsettings keys, bound before the code's options
        }

        builder.Logging.AddFilter(_ => false);
        builder.Services.AddSingleton(probe ?? new Probe());
        builder.Services.AddScoped<ScopeMarker>();
        var jobsBuilder = builder.Services.AddScaleOps(o => o.ConnectionString = connectionString).AddJobs(o =>
        {
            o.PollInterval = TimeSpan.FromMilliseconds(200);
            o.RetryBaseDelay = TimeSpan.FromMilliseconds(10);
            o.RetryMaxDelay = TimeSpan.FromMilliseconds(50);
            o.ShutdownTimeout = TimeSpan.FromSeconds(5);
            o.TimeoutGrace = TimeSpan.FromMilliseconds(200);
            configure?.Invoke(o);
        });
        jobsBuilder.AddHandler<Ping, PingHandler>();
        jobs?.Invoke(jobsBuilder);
        services?.Invoke(builder.Services);
        if (builder.Services.LastOrDefault(d => d.ServiceType == typeof(TimeProvider))?.ImplementationInstance is SkewedTime)
        {
            // A clock running in real time but minutes off is corrected to the database's by the measured offset, as the
            // system clock is in production. A fake clock is taken as the database's clock, as Core does for any clock
            // other than the system's.
            builder.Services.AddSingleton(new MeasuredDatabaseClock());
        }

        var host = builder.Build();
        try
        {
            await host.StartAsync();
        }
        catch
        {
            // A start that fails (invalid options, a migration error) still built the container and may have started
            // some hosted services: stop and dispose it, or its data source and services outlive the test.
            try
            {
                await host.StopAsync();
            }
            catch (Exception)
            {
                // The start's exception is the one the test expects.
            }

            host.Dispose();
            throw;
        }

        return new JobsHost(host);
    }

    /// <summary>
    /// The queue's producer once it sleeps: the worker listens for notifications (the LISTEN's wake-up fetch is behind
    /// it, however long the connection took), and no fetch started or ran for 100 ms. With a long poll interval, only an
    /// enqueue or a completion wakes it after this.
    /// </summary>
    internal async Task<QueueProducer> SettledProducerAsync(string queue)
    {
        var worker = Services.GetRequiredService<JobWorker>();
        var producer = worker.Producer(queue) ?? throw new InvalidOperationException($"No producer for queue '{queue}' on this host.");
        await worker.Notifier!.Listening.WaitAsync(TimeSpan.FromSeconds(30));
        await TestSignal.UntilAsync(async () =>
        {
            var before = producer.Fetches;
            await Task.Delay(100);
            return before > 0 && producer.Fetches == before && !producer.IsFetching;
        }, $"the {queue} producer to settle");
        return producer;
    }

    public async ValueTask DisposeAsync()
    {
        await _host.StopAsync();
        _host.Dispose();
    }
}
