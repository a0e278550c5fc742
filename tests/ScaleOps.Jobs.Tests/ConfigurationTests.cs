using System;
using System.Collections.Generic;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using Microsoft.Extensions.Options;
using ScaleOps.Jobs.Tests.Support;
using ScaleOps.TestInfrastructure;
using ScaleOps.Tenancy;

namespace ScaleOps.Jobs.Tests;

/// <summary>
/// The options table of the README read as appsettings keys (<c>ScaleOps:Jobs:...</c>), bound from IConfiguration rather
/// than set in code, and seen in what the worker does.
/// </summary>
public class ConfigurationTests(JobsDatabase database) : IClassFixture<JobsDatabase>
{
    private Task<long> CountAsync(string queue, string state) =>
        database.ScalarAsync<long>($"SELECT count(*) FROM scaleops.jobs WHERE queue = '{queue}' AND state = '{state}'");

    [Fact]
    public async Task Queue_and_job_settings_from_configuration_drive_the_worker()
    {
        var gate = new TaskCompletionSource();
        var probe = new Probe
        {
            Behavior = (p, c, _) => p.N < 0 ? throw new InvalidOperationException($"fails ({c.Attempt})") : p.N < 100 ? gate.Task : Task.CompletedTask,
        };
        await using var host = await JobsHost.StartAsync(database.ConnectionString, probe: probe, settings: new Dictionary<string, string?>
        {
            ["ScaleOps:Jobs:DefaultQueue"] = "cfg-default",
            ["ScaleOps:Jobs:MaxAttempts"] = "2",
            ["ScaleOps:Jobs:Queues:cfg-email:Concurrency"] = "2",
            ["ScaleOps:Jobs:Queues:cfg-email:MaxRunningPerTenant"] = "1",
            ["ScaleOps:Jobs:Queues:cfg-email:LocalDispatch"] = "false",
            ["ScaleOps:Jobs:Queues:cfg-email:LocalBuffer"] = "0",
        });

        var options = host.Services.GetService(typeof(IOptions<JobsOptions>)) as IOptions<JobsOptions>;
        Assert.Equal("cfg-default", options!.Value.DefaultQueue);
        Assert.Equal(2, options.Value.Queues["cfg-email"].Concurrency);

        // The default queue from configuration: a job without a queue goes there and runs.
        var plain = await host.Client.EnqueueAsync(new Ping(100));
        await TestSignal.UntilAsync(async () => await CountAsync("cfg-default", "succeeded") == 1, "the default-queue job to run");
        Assert.Equal("cfg-default", await database.ScalarAsync<string>($"SELECT queue FROM scaleops.jobs WHERE id = {plain}"));

        // MaxAttempts from configuration: a failing job is dead after its second attempt.
        var failing = await host.Client.EnqueueAsync(new Ping(-1));
        await TestSignal.UntilAsync(async () => await CountAsync("cfg-default", "dead") == 1, "the failing job to die");
        Assert.Equal(2, await database.ScalarAsync<int>($"SELECT attempt FROM scaleops.jobs WHERE id = {failing}"));

        // Concurrency 2 and a tenant cap of 1 from configuration: three tenants' held jobs, two run, one per tenant.
        foreach (var tenant in new[] { "t1", "t2", "t3" })
        {
            await host.Client.EnqueueManyAsync(
                [new Ping(1, tenant), new Ping(2, tenant)], new JobOptions { Queue = "cfg-email", Tenant = new TenantId(tenant) });
        }

        await TestSignal.UntilAsync(() => Task.FromResult(probe.Seen.Count(s => s.N is 1 or 2) == 2), "two email jobs to start");
        Assert.Equal(2L, await CountAsync("cfg-email", "running"));
        Assert.Equal(2L, await database.ScalarAsync<long>(
            "SELECT count(DISTINCT tenant_id) FROM scaleops.jobs WHERE queue = 'cfg-email' AND state = 'running'"));
        gate.SetResult();
        await TestSignal.UntilAsync(async () => await CountAsync("cfg-email", "succeeded") == 6, "the six email jobs to run");
        Assert.Equal(2, probe.MaxRunning);

        // LocalDispatch = false from configuration: a job enqueued on this host is fetched, not inserted started.
        var fetched = await host.Client.EnqueueAsync(new Ping(101), new JobOptions { Queue = "cfg-email" });
        await TestSignal.UntilAsync(async () => await CountAsync("cfg-email", "succeeded") == 7, "the seventh email job to run");
        Assert.True(await database.ScalarAsync<long>($"SELECT lease_id FROM scaleops.jobs WHERE id = {fetched}") < (1L << 32),
            "the job was inserted started although LocalDispatch is false in the configuration");
    }

    [Fact]
    public async Task Time_settings_from_configuration_drive_the_worker()
    {
        var probe = new Probe { Behavior = (p, _, token) => p.N == 1 ? Task.Delay(Timeout.InfiniteTimeSpan, token) : Task.CompletedTask };
        await using var host = await JobsHost.StartAsync(database.ConnectionString, probe: probe, settings: new Dictionary<string, string?>
        {
            ["ScaleOps:Jobs:DefaultQueue"] = "cfg-time",
            ["ScaleOps:Jobs:DefaultTimeout"] = "00:00:00.200",
            ["ScaleOps:Jobs:SucceededRetention"] = "00:00:00",
        });

        // DefaultTimeout: a job without its own timeout is cancelled after 200 ms (and dead on its only attempt).
        var slow = await host.Client.EnqueueAsync(new Ping(1), new JobOptions { MaxAttempts = 1 });
        await TestSignal.UntilAsync(async () => await CountAsync("cfg-time", "dead") == 1, "the slow job to time out");
        Assert.Contains("Timed out after 00:00:00.2", await database.ScalarAsync<string>($"SELECT last_error FROM scaleops.jobs WHERE id = {slow}"));

        // SucceededRetention 0: a succeeded job is deleted when it completes.
        var quick = await host.Client.EnqueueAsync(new Ping(2));
        await TestSignal.UntilAsync(() => Task.FromResult(probe.Seen.Any(s => s.JobId == quick)), "the quick job to run");
        await TestSignal.UntilAsync(
            async () => await database.ScalarAsync<long>($"SELECT count(*) FROM scaleops.jobs WHERE id = {quick}") == 0, "the quick job's row to go");
    }

    [Fact]
    public async Task Invalid_settings_from_configuration_fail_at_start_naming_the_key()
    {
        var ex = await Assert.ThrowsAsync<OptionsValidationException>(() => JobsHost.StartAsync(database.ConnectionString,
            settings: new Dictionary<string, string?>
            {
                ["ScaleOps:Jobs:Queues:email:Concurrency"] = "0",
                ["ScaleOps:Jobs:MaxAttempts"] = "0",
            }));
        Assert.Contains("ScaleOps:Jobs:Queues:email:Concurrency must be 1 to 10000; it is 0.", ex.Failures);
        Assert.Contains("ScaleOps:Jobs:MaxAttempts must be 1 to 1000; it is 0.", ex.Failures);

        var typo = await Assert.ThrowsAsync<OptionsValidationException>(() => JobsHost.StartAsync(database.ConnectionString,
            settings: new Dictionary<string, string?> { ["ScaleOps:Jobs:Queues:email:Concurency"] = "5" }));
        Assert.True(typo.Failures.Any(f => f.Contains("Concurency", StringComparison.Ordinal)), string.Join(" | ", typo.Failures));
    }

    [Fact]
    public async Task Queue_keys_that_differ_only_by_case_fail_the_start_naming_both_spellings()
    {
        // Configuration keys ignore case, queue names do not. Queues:EMAIL (an environment variable, say) and
        // Queues:email (appsettings) were one section: their settings merged silently under whichever spelling came
        // first, so the host could work a queue 'EMAIL' that no job goes to while the jobs in 'email' never ran.
        var merged = await Assert.ThrowsAsync<OptionsValidationException>(() => JobsHost.StartAsync(database.ConnectionString,
            settings: new Dictionary<string, string?>
            {
                ["ScaleOps:Jobs:Queues:CFG-CASE:MaxRunningPerTenant"] = "2",
                ["ScaleOps:Jobs:Queues:cfg-case:Concurrency"] = "3",
            }));
        Assert.True(
            merged.Failures.Any(f => f.Contains("'CFG-CASE' and 'cfg-case'", StringComparison.Ordinal) && f.Contains("differ only by case", StringComparison.Ordinal)),
            string.Join(" | ", merged.Failures));

        // A queue of the code and one of the configuration that differ only by case: two queues, the configured
        // settings not applying to the code's.
        var split = await Assert.ThrowsAsync<OptionsValidationException>(() => JobsHost.StartAsync(database.ConnectionString,
            o => o.Queues["cfg-split"] = new QueueOptions { Concurrency = 2 },
            settings: new Dictionary<string, string?> { ["ScaleOps:Jobs:Queues:CFG-Split:Concurrency"] = "3" }));
        Assert.True(
            split.Failures.Any(f => f.Contains("'CFG-Split' and 'cfg-split'", StringComparison.Ordinal)), string.Join(" | ", split.Failures));
    }
}
