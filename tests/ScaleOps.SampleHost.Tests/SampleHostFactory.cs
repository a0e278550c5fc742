using System;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace ScaleOps.SampleHost.Tests;

/// <summary>
/// The tests' <see cref="WebApplicationFactory{TEntryPoint}"/> of the sample host: a failed start always reaches the
/// test as the host's own exception.
/// </summary>
/// <remarks>
/// The sample's Program runs on a thread of its own: its <c>app.Run()</c> starts the host while the test's thread,
/// in <see cref="WebApplicationFactory{TEntryPoint}"/>'s deferred host, looks up <see cref="IHostApplicationLifetime"/>
/// to wait for the start. When the start fails fast (a mistaken setting), <c>app.Run()</c> disposes the host, and a
/// test thread that comes later (a loaded CI machine) got "Cannot access a disposed object. Object name:
/// 'IServiceProvider'" instead of the start's message. Here the app's start waits (in
/// <see cref="IHostLifetime.WaitForStartAsync"/>, the first step of a start) until the test's thread is waiting for it.
/// </remarks>
public class SampleHostFactory : WebApplicationFactory<Program>
{
    /// <summary>
    /// Runs on the test's thread between building the host and waiting for its start (while the app's start is held,
    /// or, without the hold, when it may already have failed): a test plays a late thread here.
    /// </summary>
    public Action<IHost>? BeforeStart { get; init; }

    /// <summary>Whether the app's own start waits for the test's thread (off only to show the race it prevents).</summary>
    public bool HoldStart { get; init; } = true;

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        if (!HoldStart)
        {
            return;
        }

        builder.ConfigureServices(services =>
        {
            var inner = services.LastOrDefault(d => d.ServiceType == typeof(IHostLifetime) && !d.IsKeyedService);
            services.AddSingleton<StartHold>();
            services.AddSingleton<IHostLifetime>(provider => new HeldLifetime(
                inner is null ? null : (IHostLifetime)Create(provider, inner),
                provider.GetRequiredService<StartHold>()));
        });
    }

    protected override IHost CreateHost(IHostBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        var host = builder.Build(); // the app's Program now runs app.Run() on its thread (held at its first step)
        var hold = HoldStart ? host.Services.GetRequiredService<StartHold>() : null;
        BeforeStart?.Invoke(host);
        // The deferred host's StartAsync looks up the lifetime and subscribes to ApplicationStarted before it awaits.
        var start = host.StartAsync();
        hold?.Release();
        start.GetAwaiter().GetResult();
        return host;
    }

    private static object Create(IServiceProvider provider, ServiceDescriptor descriptor) =>
        descriptor.ImplementationInstance
        ?? descriptor.ImplementationFactory?.Invoke(provider)
        ?? ActivatorUtilities.CreateInstance(provider, descriptor.ImplementationType!);

    /// <summary>Where the app's start waits until the test's thread lets it go on.</summary>
    public sealed class StartHold
    {
        private readonly TaskCompletionSource _released = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private readonly TaskCompletionSource _reached = new(TaskCreationOptions.RunContinuationsAsynchronously);

        /// <summary>Completes when the app's start has come to the hold.</summary>
        public Task Reached => _reached.Task;

        internal void Release() => _released.TrySetResult();

        internal Task WaitAsync(CancellationToken cancellationToken)
        {
            _reached.TrySetResult();
            return _released.Task.WaitAsync(cancellationToken);
        }
    }

    private sealed class HeldLifetime(IHostLifetime? inner, StartHold hold) : IHostLifetime
    {
        public async Task WaitForStartAsync(CancellationToken cancellationToken)
        {
            await hold.WaitAsync(cancellationToken);
            if (inner is not null)
            {
                await inner.WaitForStartAsync(cancellationToken);
            }
        }

        public Task StopAsync(CancellationToken cancellationToken) =>
            inner is null ? Task.CompletedTask : inner.StopAsync(cancellationToken);
    }
}
