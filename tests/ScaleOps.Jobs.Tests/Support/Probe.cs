using System;
using System.Collections.Concurrent;
using System.Threading;
using System.Threading.Tasks;
using ScaleOps.Tenancy;

namespace ScaleOps.Jobs.Tests.Support;

[JobKind("test.ping")]
public sealed record Ping(int N, string? Tag = null);

[JobKind("test.other")]
public sealed record Other(int N);

/// <summary>What the test handler saw: one record per attempt.</summary>
public sealed record Seen(long JobId, int N, int Attempt, string? AmbientTenant, string? ContextTenant, int ScopeId);

/// <summary>Shared with the handler through DI: records attempts and runs the test's behaviour.</summary>
public sealed class Probe
{
    private int _running;
    private int _maxRunning;

    public ConcurrentQueue<Seen> Seen { get; } = new();

    public Func<Ping, JobContext, CancellationToken, Task>? Behavior { get; set; }

    public int MaxRunning => Volatile.Read(ref _maxRunning);

    public int Count => Seen.Count;

    internal async Task RunAsync(Ping payload, JobContext context, CancellationToken cancellationToken, ITenantContext tenants, int scopeId)
    {
        var running = Interlocked.Increment(ref _running);
        int max;
        while ((max = Volatile.Read(ref _maxRunning)) < running && Interlocked.CompareExchange(ref _maxRunning, running, max) != max)
        {
        }

        try
        {
            Seen.Enqueue(new Seen(context.Id, payload.N, context.Attempt, tenants.Tenant?.Value, context.Tenant?.Value, scopeId));
            if (Behavior is { } behavior)
            {
                await behavior(payload, context, cancellationToken);
            }
        }
        finally
        {
            Interlocked.Decrement(ref _running);
        }
    }
}

/// <summary>A scoped service: its id shows that each job gets its own DI scope.</summary>
public sealed class ScopeMarker
{
    private static int _next;

    public int Id { get; } = Interlocked.Increment(ref _next);
}

public sealed class PingHandler(Probe probe, ITenantContext tenants, ScopeMarker scope) : IJobHandler<Ping>
{
    public Task HandleAsync(Ping payload, JobContext context, CancellationToken cancellationToken) =>
        probe.RunAsync(payload, context, cancellationToken, tenants, scope.Id);
}
