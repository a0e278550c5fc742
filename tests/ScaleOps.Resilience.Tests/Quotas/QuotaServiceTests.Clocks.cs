using System;
using System.Threading.Tasks;
using Microsoft.Extensions.DependencyInjection;
using ScaleOps.Data;
using ScaleOps.Internal;
using ScaleOps.Resilience.Quotas;
using ScaleOps.TestInfrastructure;

namespace ScaleOps.Resilience.Tests.Quotas;

/// <summary>The period a reservation falls in is the database's, whatever the reserving host's clock says.</summary>
public partial class QuotaServiceTests
{
    [Theory]
    [InlineData("jobs")] // Day
    [InlineData("exports")] // Month
    public async Task A_host_whose_clock_is_in_the_next_period_reserves_in_the_database_s_period(string resource)
    {
        // The period start was the reserving host's clock: a host a day (or a month) ahead counted its reservations in a
        // period the other hosts had not reached, so the tenant got a second allowance, and the current one looked unused.
        var now = DateTimeOffset.UtcNow;
        var skew = resource == "jobs" ? TimeSpan.FromDays(1) : TimeSpan.FromDays(32);
        var expected = resource == "jobs"
            ? new DateTimeOffset(now.Year, now.Month, now.Day, 0, 0, 0, TimeSpan.Zero)
            : new DateTimeOffset(now.Year, now.Month, 1, 0, 0, 0, TimeSpan.Zero);
        await using var sp = TestHost.Build(
            o =>
            {
                o.DefaultPlan = "free";
                o.Quotas.Resources["jobs"] = QuotaPeriod.Day;
                o.Quotas.Resources["exports"] = QuotaPeriod.Month;
                o.Quotas.Plans["free"] = new() { ["jobs"] = 3, ["exports"] = 2 };
            },
            new SkewedTime(skew),
            database.ConnectionString,
            s => s.AddSingleton(new MeasuredDatabaseClock())); // a clock running in real time, corrected as the system's is
        await sp.GetRequiredService<DatabaseClock>().MeasureAsync(); // what a host's start does
        var quotas = sp.GetRequiredService<IQuotaService>();
        using var _ = Enter(sp, $"q-skew-{resource}-{Guid.NewGuid():N}");

        var usage = await quotas.ReserveAsync(resource, 1, default);
        var start = DateTimeOffset.UtcNow; // the test's own clock, the database's host
        if (usage.PeriodStart != expected && start.Day != now.Day)
        {
            return; // the real clock crossed midnight between the two readings: nothing to compare (once a day at most)
        }

        Assert.Equal(expected, usage.PeriodStart);
        Assert.Equal(expected, usage.Reservation!.PeriodStart);
    }
}
