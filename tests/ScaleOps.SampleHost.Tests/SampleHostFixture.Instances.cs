using System;
using System.Linq;
using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;

namespace ScaleOps.SampleHost.Tests;

/// <summary>Hooks for derived fixtures: extra host settings, and a host on a real loopback port instead of the in-memory server.</summary>
public partial class SampleHostFixture
{
    /// <summary>Extra settings or services of every instance this fixture starts (the derived fixture's own).</summary>
    protected virtual void ConfigureInstance(IWebHostBuilder web)
    {
    }

    /// <summary>Starts a host: the in-memory test server by default.</summary>
    protected virtual void StartHost(WebApplicationFactory<Program> factory)
    {
        ArgumentNullException.ThrowIfNull(factory);
        _ = factory.Server;
    }

    /// <summary>The test-only request header whose value the tests' hosts take as the client's address.</summary>
    public const string ClientAddressHeader = "X-Test-Client-Address";

    /// <summary>
    /// First in the tests' hosts' pipeline: a request with <see cref="ClientAddressHeader"/> comes from that address (the
    /// in-memory test server sets none), so tests can play several clients. The sample host itself has no such hook.
    /// </summary>
    private sealed class ClientAddressFromHeader : IStartupFilter
    {
        public Action<IApplicationBuilder> Configure(Action<IApplicationBuilder> next) => app =>
        {
            app.Use((context, nextMiddleware) =>
            {
                if (context.Request.Headers.TryGetValue(ClientAddressHeader, out var value))
                {
                    context.Connection.RemoteIpAddress = IPAddress.Parse(value.ToString());
                }

                return nextMiddleware(context);
            });
            next(app);
        };
    }

    /// <summary>Starts another instance on the same database and Redis with extra settings (dispose it yourself).</summary>
    public WebApplicationFactory<Program> StartAnotherInstance(Action<IWebHostBuilder> configure)
    {
        var instance = CreateInstance(_appConnectionString, _redis).WithWebHostBuilder(configure);
        StartHost(instance);
        return instance;
    }

    /// <summary>
    /// Starts another instance whose clock is <paramref name="clock"/> (a <c>FakeTimeProvider</c> the test moves), with
    /// no job worker and no partition maintenance, so nothing else on that instance acts on the clock's jumps.
    /// </summary>
    public WebApplicationFactory<Program> StartInstanceOnClock(TimeProvider clock) => StartQuietInstance(services => services.AddSingleton(clock));

    /// <summary>
    /// Starts another instance with no job worker and no partition maintenance, and <paramref name="services"/> applied
    /// over the host's own registrations (a fake dependency, fake logging).
    /// </summary>
    public WebApplicationFactory<Program> StartQuietInstance(Action<IServiceCollection> services) => StartAnotherInstance(web =>
    {
        web.UseSetting("Sample:RunJobs", "false");
        web.UseSetting("Sample:RunPartitionMaintenance", "false");
        web.ConfigureTestServices(services);
    });
}

/// <summary>
/// The sample host on Kestrel at <c>http://127.0.0.1:{free port}</c>, for a real browser (the in-memory test server has
/// no socket). Its only instance runs the jobs.
/// </summary>
public class KestrelSampleHostFixture : SampleHostFixture
{
    /// <summary>The host's address, for example <c>http://127.0.0.1:40123</c>.</summary>
    public Uri BaseAddress { get; private set; } = new("http://127.0.0.1/");

    protected override void StartHost(WebApplicationFactory<Program> factory)
    {
        ArgumentNullException.ThrowIfNull(factory);
        factory.UseKestrel(kestrel => kestrel.Listen(IPAddress.Loopback, 0));
        factory.StartServer();
        var addresses = factory.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()?.Addresses
            ?? throw new InvalidOperationException("Kestrel reports no addresses.");
        BaseAddress = new Uri(addresses.Single());
    }
}
