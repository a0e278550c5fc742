using System;
using System.Threading.Tasks;
using Microsoft.Extensions.Time.Testing;

namespace ScaleOps.SampleHost.Tests;

/// <summary>The key's 24 hours: measured on PostgreSQL's clock, whatever the hosts' clocks say.</summary>
public partial class IdempotencyKeyTests
{
    [Fact]
    public async Task A_key_is_kept_24_hours_then_creates_again()
    {
        var tenant = await host.RegisterTenantAsync("idem-expiry");
        using var client = host.Client(tenant);
        var first = await CreatedAsync(client, "day-key", "t");

        // A minute short of the window (the statements below take far less): still the first request's key.
        await host.AgeIdempotencyKeyAsync(tenant, "day-key", TimeSpan.FromHours(24) - TimeSpan.FromMinutes(1));
        var within = await CreatedAsync(client, "day-key", "t");
        Assert.Equal(first.Id, within.Id);
        Assert.True(within.Replayed, "a retry within the window was not marked as a replay");

        await host.AgeIdempotencyKeyAsync(tenant, "day-key", TimeSpan.FromHours(24) + TimeSpan.FromSeconds(1));
        var after = await CreatedAsync(client, "day-key", "t");
        Assert.NotEqual(first.Id, after.Id);
        Assert.False(after.Replayed, "a request with an expired key was answered as a replay");
        Assert.Equal(after.Id, (await CreatedAsync(client, "day-key", "t")).Id);
        Assert.Equal(2, await DocumentsAsync(tenant));
        Assert.Equal(1, await ScalarAsync("SELECT count(*) FROM app.idempotency_keys WHERE tenant_id = $1", tenant));
    }

    [Fact]
    public async Task A_host_whose_clock_is_a_day_off_neither_frees_a_fresh_key_nor_dates_one_a_day_back()
    {
        var tenant = await host.RegisterTenantAsync("idem-skew");
        var ahead = host.StartInstanceOnClock(new FakeTimeProvider(DateTimeOffset.UtcNow + TimeSpan.FromHours(25)));
        var behind = host.StartInstanceOnClock(new FakeTimeProvider(DateTimeOffset.UtcNow - TimeSpan.FromHours(25)));
        try
        {
            using var client = host.Client(tenant);
            using var aheadClient = ahead.CreateClient();
            aheadClient.DefaultRequestHeaders.Add("X-Tenant-Id", tenant);
            using var behindClient = behind.CreateClient();
            behindClient.DefaultRequestHeaders.Add("X-Tenant-Id", tenant);

            // Created a moment ago; the retry lands on a host whose clock says a day has passed.
            var first = await CreatedAsync(client, "skew-ahead", "t");
            var retry = await CreatedAsync(aheadClient, "skew-ahead", "t");
            Assert.True(retry.Replayed, "a host whose clock is 25 h ahead took a key created a moment ago over as expired");
            Assert.Equal(first.Id, retry.Id);

            // Created on a host whose clock is a day behind; the retry a moment later lands on a host with the right time.
            var second = await CreatedAsync(behindClient, "skew-behind", "t");
            var retry2 = await CreatedAsync(client, "skew-behind", "t");
            Assert.True(retry2.Replayed, "a key created on a host whose clock is 25 h behind was already expired for the next host");
            Assert.Equal(second.Id, retry2.Id);

            Assert.Equal(2, await DocumentsAsync(tenant));
        }
        finally
        {
            await SampleHostFixture.DisposeHostAsync(ahead);
            await SampleHostFixture.DisposeHostAsync(behind);
        }
    }
}
