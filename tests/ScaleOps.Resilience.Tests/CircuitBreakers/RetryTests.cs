using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using Microsoft.Extensions.Time.Testing;
using Polly;
using Polly.CircuitBreaker;
using ScaleOps.Resilience.CircuitBreakers;
using ScaleOps.TestInfrastructure;

namespace ScaleOps.Resilience.Tests.CircuitBreakers;

/// <summary>The retry of named pipelines, its delays driven by a fake clock.</summary>
public class RetryTests
{
    private readonly TimerRecordingTimeProvider _time = new();

    private ServiceProvider Build(RetrySettings retry, int minimumThroughput = 100) => TestHost.Build(o =>
        o.CircuitBreakers["search"] = new CircuitBreakerSettings { MinimumThroughput = minimumThroughput, Retry = retry }, _time);

    /// <summary>Runs the pipeline on a call that always fails with <paramref name="failure"/>, advancing the clock through each retry delay.</summary>
    private async Task<(int Attempts, Exception Error)> FailThroughAsync(ResiliencePipeline pipeline, Func<Exception> failure, int expectedAttempts)
    {
        var attempts = 0;
        var run = pipeline.ExecuteAsync(_ =>
        {
            Interlocked.Increment(ref attempts);
            throw failure();
        }).AsTask();

        for (var retry = 1; retry < expectedAttempts; retry++)
        {
            var r = retry;
            await TestSignal.UntilAsync(() => Task.FromResult(_time.Delays.Count == r), $"retry delay {r} scheduled");
            Assert.Equal(r, Volatile.Read(ref attempts)); // the next attempt waits for the clock
            _time.Advance(_time.Delays[r - 1]);
        }

        var error = await Assert.ThrowsAnyAsync<Exception>(() => run.WaitAsync("the call to give up"));
        return (attempts, error);
    }

    [Fact]
    public async Task Without_jitter_delays_double_from_the_base_delay_up_to_the_max_delay_and_the_last_failure_surfaces()
    {
        await using var sp = Build(new RetrySettings { MaxRetryAttempts = 4, BaseDelay = TimeSpan.FromSeconds(1), MaxDelay = TimeSpan.FromSeconds(3), UseJitter = false });
        using var retries = new MetricCollector<long>(sp.GetRequiredService<System.Diagnostics.Metrics.IMeterFactory>(), "ScaleOps",
            "scaleops.resilience.retry.attempts");
        var pipeline = sp.GetRequiredService<CircuitBreakerRegistry>().GetPipeline("search", idempotent: true);

        var (attempts, error) = await FailThroughAsync(pipeline, () => new TimeoutException("dependency timed out"), expectedAttempts: 5);

        Assert.Equal(5, attempts);
        Assert.IsType<TimeoutException>(error);
        Assert.Equal([TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(2), TimeSpan.FromSeconds(3), TimeSpan.FromSeconds(3)], _time.Delays);
        var measurements = retries.GetMeasurementSnapshot();
        Assert.Equal(4, measurements.Sum(m => m.Value));
        Assert.All(measurements, m =>
        {
            Assert.Equal("search", m.Tags["pipeline"]);
            Assert.Equal(typeof(TimeoutException).FullName, m.Tags["error.type"]);
        });
    }

    [Fact]
    public async Task With_jitter_delays_are_spread_and_never_exceed_the_max_delay()
    {
        await using var sp = Build(new RetrySettings { MaxRetryAttempts = 6, BaseDelay = TimeSpan.FromSeconds(1), MaxDelay = TimeSpan.FromSeconds(10) });
        var pipeline = sp.GetRequiredService<CircuitBreakerRegistry>().GetPipeline("search", idempotent: true);

        var (attempts, _) = await FailThroughAsync(pipeline, () => new TimeoutException(), expectedAttempts: 7);

        Assert.Equal(7, attempts);
        Assert.All(_time.Delays, d => Assert.InRange(d, TimeSpan.FromTicks(1), TimeSpan.FromSeconds(10)));
        TimeSpan[] unjittered = [.. Enumerable.Range(0, 6).Select(i => TimeSpan.FromSeconds(Math.Min(10, Math.Pow(2, i))))];
        Assert.NotEqual(unjittered, _time.Delays);
    }

    [Fact]
    public async Task Work_not_declared_idempotent_is_not_retried_unless_the_pipeline_opts_in()
    {
        var settings = new RetrySettings { MaxRetryAttempts = 3, BaseDelay = TimeSpan.FromMilliseconds(100), UseJitter = false };
        await using (var sp = Build(settings))
        {
            var (attempts, error) = await FailThroughAsync(sp.GetRequiredService<CircuitBreakerRegistry>().GetPipeline("search"), () => new TimeoutException(), 1);
            Assert.Equal(1, attempts);
            Assert.IsType<TimeoutException>(error);
            Assert.Empty(_time.Delays);
        }

        settings.RetryNonIdempotent = true;
        await using (var sp = Build(settings))
        {
            var (attempts, _) = await FailThroughAsync(sp.GetRequiredService<CircuitBreakerRegistry>().GetPipeline("search"), () => new TimeoutException(), 4);
            Assert.Equal(4, attempts);
        }
    }

    [Fact]
    public async Task Failures_that_are_not_transient_are_never_retried()
    {
        await using var sp = Build(new RetrySettings { MaxRetryAttempts = 3, UseJitter = false });
        var pipeline = sp.GetRequiredService<CircuitBreakerRegistry>().GetPipeline("search", idempotent: true);

        var (attempts, error) = await FailThroughAsync(pipeline, () => new InvalidOperationException("a bug, not an outage"), 1);

        Assert.Equal(1, attempts);
        Assert.IsType<InvalidOperationException>(error);
        Assert.Empty(_time.Delays);
    }

    [Fact]
    public async Task The_retry_is_outside_the_breaker_so_each_attempt_counts_and_an_open_breaker_ends_the_retries()
    {
        await using var sp = Build(new RetrySettings { MaxRetryAttempts = 5, BaseDelay = TimeSpan.FromMilliseconds(100), UseJitter = false }, minimumThroughput: 3);
        var registry = sp.GetRequiredService<CircuitBreakerRegistry>();
        var pipeline = registry.GetPipeline("search", idempotent: true);

        // Attempts 1-3 fail and open the breaker (3 calls, all failed); the 4th is refused by the breaker, not retried.
        var (attempts, error) = await FailThroughAsync(pipeline, () => new TimeoutException(), expectedAttempts: 4);

        Assert.Equal(3, attempts);
        Assert.IsType<BrokenCircuitException>(error);
        Assert.Equal(CircuitState.Open, registry.GetState("search"));
        Assert.Equal(3, _time.Delays.Count);
    }

    [Fact]
    public async Task Pipelines_without_a_retry_do_not_retry_even_for_idempotent_work()
    {
        await using var sp = TestHost.Build(o => o.CircuitBreakers["search"] = new CircuitBreakerSettings { MinimumThroughput = 100 }, _time);
        var registry = sp.GetRequiredService<CircuitBreakerRegistry>();

        var (attempts, _) = await FailThroughAsync(registry.GetPipeline("search", idempotent: true), () => new TimeoutException(), 1);

        Assert.Equal(1, attempts);
        Assert.Same(registry.GetPipeline("search"), registry.GetPipeline("search", idempotent: true));
    }

    /// <summary>A fake clock that records the due time of every timer created (Polly's retry delays).</summary>
    private sealed class TimerRecordingTimeProvider : TimeProvider
    {
        private readonly FakeTimeProvider _fake = new();
        private readonly ConcurrentQueue<TimeSpan> _delays = new();

        public List<TimeSpan> Delays => [.. _delays];

        public override DateTimeOffset GetUtcNow() => _fake.GetUtcNow();

        public override long GetTimestamp() => _fake.GetTimestamp();

        public override long TimestampFrequency => _fake.TimestampFrequency;

        public override TimeZoneInfo LocalTimeZone => _fake.LocalTimeZone;

        public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
        {
            var timer = _fake.CreateTimer(callback, state, dueTime, period);
            _delays.Enqueue(dueTime); // recorded once the timer exists, so advancing the clock now fires it
            return timer;
        }

        public void Advance(TimeSpan by) => _fake.Advance(by);
    }
}
