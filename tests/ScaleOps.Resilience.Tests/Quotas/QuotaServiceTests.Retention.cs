using System;
using System.Linq;
using System.Threading.Tasks;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using ScaleOps.Resilience.Quotas;

namespace ScaleOps.Resilience.Tests.Quotas;

/// <summary>
/// How long usage rows are kept: a <c>Day</c> or <c>Month</c> resource adds a row per tenant per period, so without an
/// end the table grows with the number of tenants ever seen times the number of days.
/// </summary>
public partial class QuotaServiceTests
{
    /// <summary>
    /// A row of a period that ended before the previous month is read by nothing (usage is the current period's, and a
    /// reservation is given back at most until the end of the month after its period): reservations delete such rows, a
    /// few at a time. Rows of the previous month and standing counts stay.
    /// </summary>
    [Fact]
    public async Task Usage_rows_of_periods_before_the_previous_month_are_deleted_by_later_reservations()
    {
        await using var sp = Build();
        var quotas = sp.GetRequiredService<IQuotaService>();
        var dataSource = sp.GetRequiredService<NpgsqlDataSource>();
        var run = $"q-retention-{Guid.NewGuid():N}";
        for (var i = 0; i < 25; i++)
        {
            using var _ = Enter(sp, $"{run}-{i}");
            await quotas.ReserveAsync("jobs", 1, default);      // Day: 2026-11-23
            await quotas.ReserveAsync("exports", 1, default);   // Month: 2026-11
            await quotas.ReserveAsync("documents", 1, default); // standing
        }

        _time.Advance(TimeSpan.FromDays(17)); // 2026-12-10
        using (Enter(sp, $"{run}-0"))
        {
            await quotas.ReserveAsync("jobs", 1, default);
        }

        _time.Advance(TimeSpan.FromDays(36)); // 2027-01-15: November ended before December, the previous month
        Assert.Equal(50, await RowsAsync(dataSource, run, "period_start >= '2026-11-01' AND period_start < '2026-12-01'"));
        for (var i = 0; i < 20 && await RowsAsync(dataSource, run, "period_start >= '2026-11-01' AND period_start < '2026-12-01'") > 0; i++)
        {
            using var _ = Enter(sp, $"{run}-driver-{i}"); // one each: "jobs" allows 3 a day
            await quotas.ReserveAsync("jobs", 1, default);
        }

        Assert.Equal(0, await RowsAsync(dataSource, run, "period_start >= '2026-11-01' AND period_start < '2026-12-01'"));
        Assert.Equal(1, await RowsAsync(dataSource, run, "period_start = '2026-12-10'")); // the previous month stays
        Assert.Equal(25, await RowsAsync(dataSource, run, "period_start = '1970-01-01'")); // standing counts stay
        using (Enter(sp, $"{run}-3"))
        {
            Assert.Equal(1, (await quotas.GetUsageAsync("documents")).Used);
            Assert.Equal(0, (await quotas.GetUsageAsync("jobs")).Used);
        }
    }

    private static async Task<long> RowsAsync(NpgsqlDataSource dataSource, string run, string where)
    {
        await using var command = dataSource.CreateCommand(
            $"SELECT count(*) FROM scaleops.quota_usage WHERE tenant_id LIKE $1 || '-%' AND {where}");
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = run });
        return (long)(await command.ExecuteScalarAsync())!;
    }
}
