using System;
using System.Linq;
using ScaleOps.Jobs.Internal;

namespace ScaleOps.Jobs.Tests;

public class BackoffTests
{
    private const int Samples = 200;

    [Fact]
    public void The_retry_delay_doubles_with_each_attempt_up_to_the_maximum()
    {
        var options = new JobsOptions { RetryBaseDelay = TimeSpan.FromSeconds(1), RetryMaxDelay = TimeSpan.FromSeconds(100) };
        for (var attempt = 1; attempt <= 10; attempt++)
        {
            // base * 2^(attempt-1) (at most the maximum), ±25%, the top of the band cut at the maximum.
            var expected = Math.Min(Math.Pow(2, attempt - 1), 100);
            var delays = Enumerable.Range(0, Samples).Select(_ => JobExecutor.Backoff(options, attempt).TotalSeconds).ToList();
            Assert.All(delays, d => Assert.InRange(d, expected * 0.75, Math.Min(expected * 1.25, 100)));
        }

        // The growth itself, beyond the jitter: attempt 5's shortest delay is longer than attempt 4's longest.
        Assert.True(
            Enumerable.Range(0, Samples).Min(_ => JobExecutor.Backoff(options, 5)) > Enumerable.Range(0, Samples).Max(_ => JobExecutor.Backoff(options, 4)));
    }

    [Fact]
    public void The_retry_delay_is_never_longer_than_the_maximum()
    {
        // RetryMaxDelay is the longest delay: the jitter used to be applied after the cap (up to 125% of it).
        var options = new JobsOptions { RetryBaseDelay = TimeSpan.FromSeconds(10), RetryMaxDelay = TimeSpan.FromSeconds(10) };
        foreach (var attempt in new[] { 1, 2, 5, 30 })
        {
            var delays = Enumerable.Range(0, Samples).Select(_ => JobExecutor.Backoff(options, attempt)).ToList();
            Assert.All(delays, d => Assert.True(d <= options.RetryMaxDelay, $"attempt {attempt}: {d} is longer than RetryMaxDelay"));
        }

    }

    [Fact]
    public void The_retry_delay_is_jittered()
    {
        var options = new JobsOptions { RetryBaseDelay = TimeSpan.FromSeconds(1), RetryMaxDelay = TimeSpan.FromHours(1) };
        foreach (var attempt in new[] { 1, 3, 30 })
        {
            var delays = Enumerable.Range(0, Samples).Select(_ => JobExecutor.Backoff(options, attempt)).ToList();
            var expected = Math.Min(Math.Pow(2, attempt - 1), 3600);
            var band = Math.Min(expected * 1.25, 3600) - (expected * 0.75); // ±25%, its top cut at the maximum

            // Spread over the band (also at the cap), so hosts that failed together do not retry together: 200 uniform
            // draws all within half of the band's width of each other are about 1e-58 likely.
            var spread = (delays.Max() - delays.Min()).TotalSeconds;
            Assert.True(spread > band * 0.5, $"attempt {attempt}: the delays spread over {spread} s only, of a {band} s band below {expected * 1.25} s");
            Assert.True(delays.Distinct().Count() > Samples / 2, $"attempt {attempt}: too many equal delays");
        }
    }
}
