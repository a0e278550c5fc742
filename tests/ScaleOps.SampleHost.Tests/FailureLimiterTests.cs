using System;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Time.Testing;
using ScaleOps.SampleHost.Limits;

namespace ScaleOps.SampleHost.Tests;

/// <summary>The budget of failures per client itself, on a fake clock (the host tests cannot wait out a minute).</summary>
public class FailureLimiterTests
{
    private static readonly TimeSpan Window = TimeSpan.FromMinutes(1);

    private static void Fail(FailureLimiter limiter, string client, int times)
    {
        for (var i = 0; i < times; i++)
        {
            Assert.True(limiter.Begin(client).Allowed, $"attempt {i + 1} of {client}");
        }
    }

    [Fact]
    public void A_spent_budget_refuses_every_attempt_until_the_window_ends_and_then_starts_afresh()
    {
        var time = new FakeTimeProvider();
        var limiter = new FailureLimiter(3, Window, time);
        time.Advance(TimeSpan.FromSeconds(10)); // the client's window starts at its first attempt
        Fail(limiter, "a", 3);

        time.Advance(TimeSpan.FromSeconds(20));
        var refused = limiter.Begin("a");
        Assert.False(refused.Allowed);
        Assert.Equal(TimeSpan.FromSeconds(40), refused.RetryAfter);

        time.Advance(TimeSpan.FromSeconds(40) - TimeSpan.FromTicks(1));
        Assert.False(limiter.Begin("a").Allowed);
        time.Advance(TimeSpan.FromTicks(1));
        Fail(limiter, "a", 3);
        Assert.False(limiter.Begin("a").Allowed);
    }

    [Fact]
    public void Passed_checks_give_their_unit_back_and_running_ones_hold_it()
    {
        var limiter = new FailureLimiter(2, Window, new FakeTimeProvider());
        for (var i = 0; i < 10; i++)
        {
            var passed = limiter.Begin("a");
            Assert.True(passed.Allowed);
            passed.Succeeded();
        }

        var running = limiter.Begin("a");
        var failed = limiter.Begin("a");
        Assert.True(running.Allowed && failed.Allowed);
        Assert.False(limiter.Begin("a").Allowed); // one running, one failed: the budget of 2 is taken
        running.Succeeded();
        Assert.True(limiter.Begin("a").Allowed);
        Assert.False(limiter.Begin("a").Allowed);
    }

    [Fact]
    public void A_check_from_an_ended_window_gives_nothing_to_the_next_one()
    {
        var time = new FakeTimeProvider();
        var limiter = new FailureLimiter(1, Window, time);
        var old = limiter.Begin("a");
        time.Advance(Window);
        Assert.True(limiter.Begin("a").Allowed); // a failure of the new window
        old.Succeeded();
        Assert.False(limiter.Begin("a").Allowed);
    }

    [Fact]
    public void Clients_are_counted_apart_and_the_number_tracked_is_bounded()
    {
        var time = new FakeTimeProvider();
        var limiter = new FailureLimiter(1, Window, time, maxClients: 2);
        Fail(limiter, "a", 1);
        Fail(limiter, "b", 1);
        Assert.False(limiter.Begin("a").Allowed);

        // Full: a new client is refused until the next sweep drops the ended windows.
        var refused = limiter.Begin("c");
        Assert.False(refused.Allowed);
        Assert.True(refused.RetryAfter > TimeSpan.Zero && refused.RetryAfter <= Window, $"{refused.RetryAfter}");

        time.Advance(Window);
        Fail(limiter, "c", 1);
        Assert.Equal(1, limiter.TrackedClients);
    }

    [Fact]
    public void Clients_whose_checks_all_passed_are_not_kept_so_they_cannot_fill_the_table()
    {
        var limiter = new FailureLimiter(1, Window, new FakeTimeProvider(), maxClients: 2);
        for (var i = 0; i < 100; i++)
        {
            var passed = limiter.Begin($"good-{i}");
            Assert.True(passed.Allowed, $"client {i}");
            passed.Succeeded();
        }

        Assert.Equal(0, limiter.TrackedClients);
        Fail(limiter, "a", 1);
        var running = limiter.Begin("b");
        Assert.Equal(2, limiter.TrackedClients); // a failure and a running check are remembered
        Assert.False(limiter.Begin("c").Allowed);
        running.Succeeded();
        Assert.Equal(1, limiter.TrackedClients);
        Assert.True(limiter.Begin("c").Allowed);
        Assert.False(limiter.Begin("a").Allowed); // its failure is still counted
    }

    [Theory]
    [InlineData(null, "none")]
    [InlineData("198.51.100.7", "198.51.100.7")]
    [InlineData("::ffff:198.51.100.7", "198.51.100.7")]
    [InlineData("2001:db8:1:2:aaaa:bbbb:cccc:dddd", "2001:db8:1:2::/64")]
    [InlineData("2001:db8:1:2::1", "2001:db8:1:2::/64")]
    [InlineData("::1", "::/64")]
    public void Addresses_are_counted_by_ipv4_address_or_ipv6_64_bit_network(string? address, string client)
    {
        var http = new DefaultHttpContext();
        http.Connection.RemoteIpAddress = address is null ? null : System.Net.IPAddress.Parse(address);
        Assert.Equal(client, ClientLimits.ClientOf(http));
    }
}
