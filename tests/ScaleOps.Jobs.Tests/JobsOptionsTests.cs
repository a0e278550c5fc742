using System;
using System.Linq;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using ScaleOps.Jobs.Tests.Support;

namespace ScaleOps.Jobs.Tests;

public class JobsOptionsTests
{
    [Fact]
    public void Defaults_are_pinned()
    {
        var o = new JobsOptions();
        Assert.Equal("default", o.DefaultQueue);
        Assert.Equal(25, o.MaxAttempts);
        Assert.Equal(TimeSpan.FromMinutes(5), o.DefaultTimeout);
        Assert.Equal(TimeSpan.FromSeconds(1), o.PollInterval);
        Assert.Equal(TimeSpan.FromSeconds(30), o.LeaseDuration);
        Assert.Equal(TimeSpan.FromDays(1), o.SucceededRetention);
        Assert.Equal(TimeSpan.FromMinutes(5), o.RecurringTakeoverAfter);
        Assert.Equal(10, new QueueOptions().Concurrency);
        Assert.Equal(0, new QueueOptions().MaxRunningPerTenant);
    }

    [Fact]
    public void Invalid_settings_fail_at_start_all_at_once_naming_each_setting()
    {
        var services = new ServiceCollection();
        services.AddScaleOps(o => o.ConnectionString = "Host=127.0.0.1").AddJobs(o =>
        {
            o.MaxAttempts = 0;
            o.PollInterval = TimeSpan.Zero;
            o.RetryMaxDelay = TimeSpan.FromMilliseconds(1);
            o.RecurringTakeoverAfter = TimeSpan.FromSeconds(1);
            o.Queues["q"] = new QueueOptions { Concurrency = 0, MaxRunningPerTenant = -1 };
            o.Queues["bad \uD83D"] = new QueueOptions();
        });
        using var provider = services.BuildServiceProvider();
        var ex = Assert.Throws<OptionsValidationException>(() => provider.GetRequiredService<IOptions<JobsOptions>>().Value);
        Assert.Contains("ScaleOps:Jobs:MaxAttempts must be 1 to 1000; it is 0.", ex.Failures);
        Assert.Contains(ex.Failures, f => f.StartsWith("ScaleOps:Jobs:PollInterval must be between", StringComparison.Ordinal));
        Assert.Contains(ex.Failures, f => f.StartsWith("ScaleOps:Jobs:RetryMaxDelay must be between", StringComparison.Ordinal));
        Assert.Contains(
            "ScaleOps:Jobs:RecurringTakeoverAfter must be between 00:00:05 and 1.00:00:00; it is 00:00:01. It is how long a recurring "
            + "schedule's stored definition may go unseen before a host with another definition takes the schedule over; hosts with "
            + "the stored definition record that they are alive every fifth of it.", ex.Failures);
        Assert.Contains("ScaleOps:Jobs:Queues:q:Concurrency must be 1 to 10000; it is 0.", ex.Failures);
        Assert.Contains("ScaleOps:Jobs:Queues:q:MaxRunningPerTenant must be 0 (no cap) to 10000; it is -1.", ex.Failures);
        Assert.Contains(ex.Failures, f => f.StartsWith("ScaleOps:Jobs:Queues: the queue name 'bad", StringComparison.Ordinal)
            && f.EndsWith("contains a NUL character or a lone UTF-16 surrogate, which a PostgreSQL text column cannot hold.", StringComparison.Ordinal));
    }

    [Fact]
    public void AddJobs_twice_registers_one_worker_and_one_handler()
    {
        var services = new ServiceCollection();
        var builder = services.AddScaleOps(o => o.ConnectionString = "Host=127.0.0.1");
        builder.AddJobs().AddHandler<Ping, PingHandler>();
        builder.AddJobs(o => o.MaxAttempts = 3).AddHandler<Ping, PingHandler>();
        Assert.Single(services, d => d.ServiceType == typeof(IHostedService) && d.ImplementationFactory is not null
            && d.ImplementationFactory.Method.DeclaringType?.Namespace == "Microsoft.Extensions.DependencyInjection");
        Assert.Single(services, d => d.ServiceType == typeof(IJobHandler<Ping>));
        Assert.Single(services, d => d.ServiceType == typeof(IJobClient));
        using var provider = services.BuildServiceProvider();
        Assert.Equal(3, provider.GetRequiredService<IOptions<JobsOptions>>().Value.MaxAttempts);
    }

    [Fact]
    public void Two_payload_types_cannot_share_a_kind()
    {
        var jobs = new ServiceCollection().AddScaleOps().AddJobs();
        jobs.AddHandler<Ping, PingHandler>();
        var ex = Assert.Throws<InvalidOperationException>(() => jobs.AddHandler<Impostor, ImpostorHandler>());
        Assert.Contains("'test.ping'", ex.Message);
    }

    [Fact]
    public void A_second_handler_type_for_one_payload_type_is_refused_naming_both()
    {
        var jobs = new ServiceCollection().AddScaleOps().AddJobs();
        jobs.AddHandler<Impostor, ImpostorHandler>().AddHandler<Impostor, ImpostorHandler>(); // the same one again: harmless
        var ex = Assert.Throws<InvalidOperationException>(() => jobs.AddHandler<Impostor, OtherImpostorHandler>());
        Assert.Contains(nameof(ImpostorHandler), ex.Message);
        Assert.Contains(nameof(OtherImpostorHandler), ex.Message);
    }

    [JobKind("test.ping")]
    public sealed record Impostor(int N);

    public sealed class OtherImpostorHandler : IJobHandler<Impostor>
    {
        public System.Threading.Tasks.Task HandleAsync(Impostor payload, JobContext context, System.Threading.CancellationToken cancellationToken) =>
            System.Threading.Tasks.Task.CompletedTask;
    }

    public sealed class ImpostorHandler : IJobHandler<Impostor>
    {
        public System.Threading.Tasks.Task HandleAsync(Impostor payload, JobContext context, System.Threading.CancellationToken cancellationToken) =>
            System.Threading.Tasks.Task.CompletedTask;
    }
}
