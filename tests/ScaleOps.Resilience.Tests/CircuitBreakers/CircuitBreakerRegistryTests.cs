using System;
using System.Linq;
using System.Net.Http;
using System.Threading;
using System.Threading.Tasks;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using Microsoft.Extensions.Time.Testing;
using Npgsql;
using Polly;
using Polly.CircuitBreaker;
using ScaleOps.Resilience.CircuitBreakers;

namespace ScaleOps.Resilience.Tests.CircuitBreakers;

public class CircuitBreakerRegistryTests
{
    private readonly FakeTimeProvider _time = new();

    private ServiceProvider Build(Action<ResilienceOptions>? configure = null) => TestHost.Build(o =>
    {
        o.CircuitBreakers["search"] = new CircuitBreakerSettings { MinimumThroughput = 2, BreakDuration = TimeSpan.FromSeconds(10) };
        configure?.Invoke(o);
    }, _time);

    private static async Task Fail(ResiliencePipeline pipeline, Exception exception)
    {
        try
        {
            await pipeline.ExecuteAsync(_ => throw exception);
        }
        catch (Exception ex) when (ex == exception || ex is BrokenCircuitException)
        {
        }
    }

    [Fact]
    public async Task Transient_failures_open_a_breaker_which_half_opens_after_its_break_and_closes_on_success()
    {
        await using var sp = Build();
        var registry = sp.GetRequiredService<CircuitBreakerRegistry>();
        var pipeline = registry.GetPipeline("search");

        await Fail(pipeline, new TimeoutException());
        await Fail(pipeline, new TimeoutException());
        Assert.Equal(CircuitState.Open, registry.GetState("search"));
        await Assert.ThrowsAsync<BrokenCircuitException>(async () => await pipeline.ExecuteAsync(_ => ValueTask.CompletedTask));

        _time.Advance(TimeSpan.FromSeconds(11));
        await pipeline.ExecuteAsync(_ => ValueTask.CompletedTask);
        Assert.Equal(CircuitState.Closed, registry.GetState("search"));
        Assert.NotNull(registry.GetStatuses().Single(s => s.Name == "search").ChangedAt);
    }

    [Fact]
    public async Task A_half_open_trial_cancelled_by_its_caller_reopens_the_breaker_instead_of_closing_it()
    {
        // A "database" that accepts connections and never answers: real connect timeouts open the breaker.
        using var hung = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        hung.Start();
        var connectionString = $"Host=127.0.0.1;Port={((System.Net.IPEndPoint)hung.LocalEndpoint).Port};Username=postgres;Timeout=1;Pooling=false";
        await using var sp = Build(o =>
        {
            o.CircuitBreakers["postgres"].MinimumThroughput = 2;
            o.CircuitBreakers["postgres"].BreakDuration = TimeSpan.FromSeconds(30);
        });
        var registry = sp.GetRequiredService<CircuitBreakerRegistry>();
        var pipeline = registry.GetPipeline(CircuitBreakerNames.Postgres);
        for (var i = 0; i < 2; i++)
        {
            var timeout = await Record.ExceptionAsync(async () => await pipeline.ExecuteAsync(async ct =>
            {
                await using var connection = new NpgsqlConnection(connectionString);
                await connection.OpenAsync(ct);
            }));
            Assert.True(TransientFailures.IsTransient(timeout!), $"{timeout}");
        }

        Assert.Equal(CircuitState.Open, registry.GetState(CircuitBreakerNames.Postgres));
        _time.Advance(TimeSpan.FromSeconds(31));

        // The trial: its caller (an HTTP request aborted by its client) gives up while the trial waits on the hung server.
        using var caller = new CancellationTokenSource();
        var cancelled = await Record.ExceptionAsync(async () => await pipeline.ExecuteAsync(
            async ct =>
            {
                var wait = Task.Delay(Timeout.Infinite, ct); // any await on the hung socket
                await caller.CancelAsync();
                await wait;
            },
            caller.Token));
        Assert.IsAssignableFrom<OperationCanceledException>(cancelled);

        // The dependency never answered: not closed, but open for another break (Polly.Core cannot stay half-open).
        Assert.Equal(CircuitState.Open, registry.GetState(CircuitBreakerNames.Postgres));
        Assert.True(registry.IsBroken(CircuitBreakerNames.Postgres));
        var health = await sp.GetRequiredService<CircuitBreakerHealthCheck>().CheckHealthAsync(new HealthCheckContext());
        Assert.Equal(HealthStatus.Unhealthy, health.Status);

        // After that break the next call is a new trial, and an answer closes the breaker.
        _time.Advance(TimeSpan.FromSeconds(31));
        await pipeline.ExecuteAsync(_ => ValueTask.CompletedTask);
        Assert.Equal(CircuitState.Closed, registry.GetState(CircuitBreakerNames.Postgres));

        // Closed, the caller's own cancellation is no failure: it never opens the breaker.
        for (var i = 0; i < 4; i++)
        {
            using var impatient = new CancellationTokenSource();
            await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await pipeline.ExecuteAsync(
                async ct =>
                {
                    var wait = Task.Delay(Timeout.Infinite, ct);
                    await impatient.CancelAsync();
                    await wait;
                },
                impatient.Token));
        }

        Assert.Equal(CircuitState.Closed, registry.GetState(CircuitBreakerNames.Postgres));
    }

    [Fact]
    public async Task Http_client_timeouts_open_the_http_breaker_but_cancellations_by_the_caller_do_not()
    {
        await using var sp = Build(o =>
        {
            o.CircuitBreakers["http"].MinimumThroughput = 2;
            o.CircuitBreakers["http"].FailureRatio = 0.3; // the caller's cancellations count as successes: 2 timeouts of 5 calls open it
        });
        var registry = sp.GetRequiredService<CircuitBreakerRegistry>();
        var pipeline = registry.GetPipeline(CircuitBreakerNames.Http);
        using var silent = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0); // accepts, never answers
        silent.Start();
        var url = $"http://127.0.0.1:{((System.Net.IPEndPoint)silent.LocalEndpoint).Port}/";

        using var patient = new HttpClient { Timeout = TimeSpan.FromMinutes(1) };
        for (var i = 0; i < 3; i++)
        {
            // The caller gives up 50 ms into the call. (A timer started before the call could fire before the pipeline
            // ran on a loaded machine: Polly then refuses the call before the breaker sees it, and it counts for nothing.)
            using var caller = new CancellationTokenSource();
            await Assert.ThrowsAnyAsync<OperationCanceledException>(async () =>
                await pipeline.ExecuteAsync(
                    async ct =>
                    {
                        caller.CancelAfter(TimeSpan.FromMilliseconds(50));
                        return await patient.GetAsync(url, ct);
                    },
                    caller.Token));
        }

        Assert.Equal(CircuitState.Closed, registry.GetState(CircuitBreakerNames.Http)); // the caller gave up: not the server's fault

        using var impatient = new HttpClient { Timeout = TimeSpan.FromMilliseconds(100) };
        for (var i = 0; i < 2; i++)
        {
            await Assert.ThrowsAnyAsync<OperationCanceledException>(async () =>
                await pipeline.ExecuteAsync(async ct => await impatient.GetAsync(url, ct), CancellationToken.None));
        }

        Assert.Equal(CircuitState.Open, registry.GetState(CircuitBreakerNames.Http));
    }

    [Fact]
    public async Task Returned_5xx_responses_open_the_breaker_and_4xx_responses_do_not()
    {
        await using var sp = Build();
        var registry = sp.GetRequiredService<CircuitBreakerRegistry>();
        var pipeline = registry.GetPipeline("search");
        for (var i = 0; i < 3; i++)
        {
            using var notFound = await pipeline.ExecuteAsync(_ => ValueTask.FromResult(new HttpResponseMessage(System.Net.HttpStatusCode.NotFound)));
        }

        Assert.Equal(CircuitState.Closed, registry.GetState("search"));
        for (var i = 0; i < 3; i++) // 3 of 6 calls failed: the ratio (0.5) is reached
        {
            using var unavailable = await pipeline.ExecuteAsync(_ => ValueTask.FromResult(new HttpResponseMessage(System.Net.HttpStatusCode.ServiceUnavailable)));
            Assert.Equal(System.Net.HttpStatusCode.ServiceUnavailable, unavailable.StatusCode); // returned, not thrown
        }

        Assert.Equal(CircuitState.Open, registry.GetState("search"));
    }

    [Fact]
    public async Task An_open_breaker_is_broken_only_for_its_break_duration_and_health_follows_while_an_isolated_one_stays_broken()
    {
        await using var sp = Build(o => o.CircuitBreakers["postgres"].BreakDuration = TimeSpan.FromSeconds(10));
        var registry = sp.GetRequiredService<CircuitBreakerRegistry>();
        var health = sp.GetRequiredService<CircuitBreakerHealthCheck>();
        var pipeline = registry.GetPipeline("postgres");
        for (var i = 0; i < 5; i++)
        {
            await Fail(pipeline, new TimeoutException());
        }

        Assert.Equal(CircuitState.Open, registry.GetState("postgres"));
        Assert.True(registry.IsBroken("postgres"));
        Assert.Equal(HealthStatus.Unhealthy, (await health.CheckHealthAsync(new HealthCheckContext())).Status);

        _time.Advance(TimeSpan.FromSeconds(9));
        Assert.True(registry.IsBroken("postgres"));

        _time.Advance(TimeSpan.FromSeconds(1)); // the break is over; no call came, so Polly still reads Open
        Assert.Equal(CircuitState.Open, registry.GetState("postgres"));
        Assert.False(registry.IsBroken("postgres"));
        Assert.False(registry.GetStatuses().Single(s => s.Name == "postgres").IsBroken);
        Assert.Equal(HealthStatus.Healthy, (await health.CheckHealthAsync(new HealthCheckContext())).Status);

        await Fail(pipeline, new TimeoutException()); // the trial fails: open for another break
        Assert.True(registry.IsBroken("postgres"));
        Assert.Equal(HealthStatus.Unhealthy, (await health.CheckHealthAsync(new HealthCheckContext())).Status);

        await registry.IsolateAsync("redis");
        _time.Advance(TimeSpan.FromDays(1));
        Assert.True(registry.IsBroken("redis")); // isolated until reset, whatever its break duration
        Assert.False(registry.IsBroken("postgres"));
    }

    [Fact]
    public async Task Non_transient_failures_never_open_a_breaker()
    {
        await using var sp = Build();
        var registry = sp.GetRequiredService<CircuitBreakerRegistry>();
        var pipeline = registry.GetPipeline("search");

        for (var i = 0; i < 10; i++)
        {
            await Fail(pipeline, new InvalidOperationException("a bug, not an outage"));
        }

        Assert.Equal(CircuitState.Closed, registry.GetState("search"));
    }

    [Fact]
    public async Task An_operator_can_isolate_and_reset_a_breaker_and_health_follows()
    {
        await using var sp = Build();
        var registry = sp.GetRequiredService<CircuitBreakerRegistry>();
        var health = sp.GetRequiredService<CircuitBreakerHealthCheck>();
        Assert.Equal(HealthStatus.Healthy, (await health.CheckHealthAsync(new HealthCheckContext())).Status);

        await registry.IsolateAsync("redis");
        Assert.Equal(CircuitState.Isolated, registry.GetState("redis"));
        Assert.True(registry.IsBroken("redis"));
        var degraded = await health.CheckHealthAsync(new HealthCheckContext());
        Assert.Equal(HealthStatus.Degraded, degraded.Status);
        Assert.Equal("Isolated", degraded.Data["redis"]);

        await registry.IsolateAsync("postgres");
        Assert.Equal(HealthStatus.Unhealthy, (await health.CheckHealthAsync(new HealthCheckContext())).Status);

        await registry.ResetAsync("postgres");
        await registry.ResetAsync("redis");
        Assert.Equal(HealthStatus.Healthy, (await health.CheckHealthAsync(new HealthCheckContext())).Status);
    }

    [Fact]
    public async Task The_registry_lists_every_breaker_and_reports_states_on_the_scaleops_meter()
    {
        await using var sp = Build();
        var registry = sp.GetRequiredService<CircuitBreakerRegistry>();
        using var gauge = new MetricCollector<int>(sp.GetRequiredService<System.Diagnostics.Metrics.IMeterFactory>(), "ScaleOps",
            "scaleops.resilience.circuit_breaker.state");
        using var transitions = new MetricCollector<long>(sp.GetRequiredService<System.Diagnostics.Metrics.IMeterFactory>(), "ScaleOps",
            "scaleops.resilience.circuit_breaker.transitions");

        Assert.Equal(["blob", "http", "postgres", "redis", "search"], registry.GetStatuses().Select(s => s.Name));
        await registry.IsolateAsync("blob");
        gauge.RecordObservableInstruments();

        var blob = gauge.GetMeasurementSnapshot().Last(m => (string?)m.Tags["breaker"] == "blob");
        Assert.Equal(3, blob.Value);
        Assert.Equal(0, gauge.GetMeasurementSnapshot().Last(m => (string?)m.Tags["breaker"] == "http").Value);
        Assert.Contains(transitions.GetMeasurementSnapshot(), m => (string?)m.Tags["breaker"] == "blob" && (string?)m.Tags["state"] == "open");
    }

    [Fact]
    public async Task Unknown_breaker_names_fail_at_the_call_listing_the_configured_ones()
    {
        await using var sp = Build();
        var registry = sp.GetRequiredService<CircuitBreakerRegistry>();

        var ex = Assert.Throws<ArgumentException>(() => registry.GetPipeline("mongo"));
        Assert.Contains("No circuit breaker is named 'mongo'", ex.Message, StringComparison.Ordinal);
        Assert.Contains("blob, http, postgres, redis, search", ex.Message, StringComparison.Ordinal);
        await Assert.ThrowsAsync<ArgumentException>(() => registry.IsolateAsync("mongo"));
        Assert.Equal(CircuitState.Closed, registry.GetState("Redis")); // names are case-insensitive, as configuration keys are
    }
}
