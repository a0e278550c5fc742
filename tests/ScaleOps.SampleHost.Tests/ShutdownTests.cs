using System;
using System.IO;
using System.Linq;
using System.Net;
using System.Net.Http;
using System.Text;
using System.Threading;
using System.Threading.Tasks;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using ScaleOps.Jobs;
using ScaleOps.Tenancy;

namespace ScaleOps.SampleHost.Tests;

/// <summary>A job that runs until it is cancelled (the host's stop), telling the test when it has started.</summary>
[JobKind("test.until-stopped")]
public sealed record UntilStoppedJob(string Name);

/// <summary>Signals of one instance: its job started, a held request arrived.</summary>
public sealed class ShutdownSignals
{
    public TaskCompletionSource JobStarted { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public TaskCompletionSource RequestArrived { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
}

public sealed class UntilStoppedJobHandler(ShutdownSignals signals) : IJobHandler<UntilStoppedJob>
{
    public async Task HandleAsync(UntilStoppedJob payload, JobContext context, CancellationToken cancellationToken)
    {
        signals.JobStarted.TrySetResult();
        await Task.Delay(Timeout.Infinite, cancellationToken);
    }
}

/// <summary>
/// Kestrel hosts whose first instance runs no jobs (the test's own instance does, and is the one it stops), with the
/// test job's handler and a middleware that signals when a request marked <c>X-Test-Hold</c> has reached the host.
/// </summary>
public sealed class ShutdownFixture : KestrelSampleHostFixture
{
    protected override void ConfigureInstance(IWebHostBuilder web)
    {
        web.UseSetting("Sample:RunJobs", "false");
        web.ConfigureTestServices(services =>
        {
            services.AddSingleton<ShutdownSignals>();
            services.AddScaleOps().AddJobs().AddHandler<UntilStoppedJob, UntilStoppedJobHandler>();
            services.AddSingleton<IStartupFilter, SignalArrival>();
        });
    }

    private sealed class SignalArrival : IStartupFilter
    {
        public Action<IApplicationBuilder> Configure(Action<IApplicationBuilder> next) => app =>
        {
            var signals = app.ApplicationServices.GetRequiredService<ShutdownSignals>();
            app.Use((context, nextMiddleware) =>
            {
                if (context.Request.Headers.ContainsKey("X-Test-Hold"))
                {
                    signals.RequestArrived.TrySetResult();
                }

                return nextMiddleware(context);
            });
            next(app);
        };
    }
}

public class ShutdownTests(ShutdownFixture host) : IClassFixture<ShutdownFixture>
{
    /// <summary>A JSON body sent in two parts: the second only once the test releases it.</summary>
    private sealed class HeldContent(string first, string rest, Task release) : HttpContent
    {
        protected override async Task SerializeToStreamAsync(Stream stream, TransportContext? context)
        {
            await stream.WriteAsync(Encoding.UTF8.GetBytes(first));
            await stream.FlushAsync();
            await release;
            await stream.WriteAsync(Encoding.UTF8.GetBytes(rest));
        }

        protected override bool TryComputeLength(out long length)
        {
            length = Encoding.UTF8.GetByteCount(first + rest);
            return true;
        }
    }

    [Fact]
    public async Task Stopping_the_host_finishes_the_request_in_flight_gives_back_the_running_job_and_writes_the_audit_event()
    {
        var tenant = await host.RegisterTenantAsync("shutdown-tenant");
        var instance = host.StartAnotherInstance(web =>
        {
            web.UseSetting("Sample:RunJobs", "true");
            web.UseSetting("ScaleOps:Jobs:ShutdownTimeout", "00:00:01");
        });
        var stopped = false;
        try
        {
            var signals = instance.Services.GetRequiredService<ShutdownSignals>();
            var address = new Uri(instance.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.Single());
            var stopping = instance.Services.GetRequiredService<IHostApplicationLifetime>().ApplicationStopping;

            var jobId = (await instance.Services.GetRequiredService<IJobClient>().EnqueueAsync(new UntilStoppedJob("long"),
                new JobOptions { Queue = "indexing", Tenant = new TenantId(tenant) }))!.Value;
            await signals.JobStarted.Task.WaitAsync(TimeSpan.FromSeconds(30));

            using var client = new HttpClient { BaseAddress = address, Timeout = TimeSpan.FromSeconds(60) };
            var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            using var request = new HttpRequestMessage(HttpMethod.Post, "/documents")
            {
                Content = new HeldContent("{\"title\":\"written while stopping\",", "\"body\":\"b\"}", release.Task),
            };
            request.Content.Headers.ContentType = new("application/json");
            request.Headers.Add("X-Tenant-Id", tenant);
            request.Headers.Add("X-Test-Hold", "1");
            var sent = client.SendAsync(request);
            await signals.RequestArrived.Task.WaitAsync(TimeSpan.FromSeconds(30));

            // The host is told to stop (SIGTERM does the same) while the request waits for the rest of its body.
            var stoppingSeen = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            using var registration = stopping.Register(() => stoppingSeen.TrySetResult());
            var disposed = Task.Run(() => SampleHostFixture.DisposeHostAsync(instance));
            stopped = true;
            await stoppingSeen.Task.WaitAsync(TimeSpan.FromSeconds(30));
            release.SetResult();

            using var response = await sent;
            Assert.Equal(HttpStatusCode.Created, response.StatusCode);
            var created = System.Text.Json.JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;
            var documentId = created.GetProperty("id").GetString()!;
            await disposed;

            // The running job was given back (pending again, its attempt not counted), not left running until its lease ends.
            await using (var command = host.DataSource.CreateCommand("SELECT state, attempt, lease_until FROM scaleops.jobs WHERE id = $1"))
            {
                command.Parameters.AddWithValue(jobId);
                await using var reader = await command.ExecuteReaderAsync();
                Assert.True(await reader.ReadAsync());
                Assert.Equal("pending", reader.GetString(0));
                Assert.Equal(0, reader.GetInt32(1));
                Assert.True(reader.IsDBNull(2), "the given-back job still has a lease");
            }

            // The request's document, its index job and its audit event were all written before the host was gone.
            await using (var command = host.DataSource.CreateCommand(
                "SELECT (SELECT count(*) FROM app.documents WHERE tenant_id = $1 AND id = $2::uuid),"
                + " (SELECT count(*) FROM scaleops.jobs WHERE tenant_id = $1 AND kind = 'document.index' AND state <> 'running'),"
                + " (SELECT count(*) FROM scaleops.audit_log WHERE tenant_id = $1 AND action = 'document.created' AND entity_id = $2)"))
            {
                command.Parameters.AddWithValue(tenant);
                command.Parameters.AddWithValue(documentId);
                await using var reader = await command.ExecuteReaderAsync();
                Assert.True(await reader.ReadAsync());
                Assert.Equal((1L, 1L, 1L), (reader.GetInt64(0), reader.GetInt64(1), reader.GetInt64(2)));
            }
        }
        finally
        {
            if (!stopped)
            {
                await SampleHostFixture.DisposeHostAsync(instance);
            }
        }
    }
}
