using System;
using System.Linq;
using System.Threading.Tasks;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Testing;
using Npgsql;
using ScaleOps.Partitioning.Lifecycle;
using Xunit;

namespace ScaleOps.Partitioning.Tests.Lifecycle;

public partial class MaintenanceTests
{
    /// <summary>
    /// Maintenance connecting with a session TimeZone other than UTC (one with a 45-minute offset, one half an hour off,
    /// one with daylight saving): rows of a default partition at a period's last microsecond and first one, on the day
    /// clocks change, before 1970 and in 1899 move into the partitions of their UTC periods, named and bounded in UTC.
    /// </summary>
    [Theory]
    [InlineData("timestamptz", "Pacific/Chatham")]
    [InlineData("timestamptz", "America/New_York")]
    [InlineData("timestamp", "Asia/Kolkata")]
    [InlineData("timestamp", "Pacific/Chatham")]
    [InlineData("date", "America/New_York")]
    public async Task Rows_move_into_their_UTC_period_whatever_the_session_TimeZone(string columnType, string timeZone)
    {
        var name = "m_tz_" + columnType + "_" + timeZone.Split('/')[1].ToLowerInvariant();
        var connectionString = new NpgsqlConnectionStringBuilder(database.ConnectionString) { Options = "-c TimeZone=" + timeZone }.ConnectionString;
        // Periods before 1970 and in 1899 are far past the default MaxPastPeriods (300 months): raised for the test.
        var (host, _, maintenance) = await TableAsync(name, t => t.MaxPastPeriods = 2000, columnType: columnType, connectionString: connectionString);
        using var _ = host;
        await database.DataSource.ExecAsync($"CREATE TABLE {name}_default PARTITION OF {name} DEFAULT");
        var zone = columnType == "timestamptz" ? "+00" : "";
        string At(string text) => columnType == "date" ? text[..10] : text + zone;
        await database.DataSource.ExecAsync(
            $"INSERT INTO {name} VALUES (1, '{At("1899-12-31 23:59:59.999999")}', 'a'), (2, '{At("1969-12-31 23:59:59.999999")}', 'b'), "
            + $"(3, '{At("1970-01-01 00:00:00")}', 'c'), (4, '{At("2026-03-08 07:00:00")}', 'us clocks change'), "
            + $"(5, '{At("2026-03-31 23:59:59.999999")}', 'last of march'), (6, '{At("2026-04-01 00:00:00")}', 'first of april'), "
            + $"(7, '{At("2026-04-05 14:00:00")}', 'chatham clocks change')");

        var result = await maintenance.RunMaintenanceAsync();
        Assert.Empty(result.Failures);
        Assert.Equal(
            [$"{name}_p1899_12", $"{name}_p1969_12", $"{name}_p1970_01", $"{name}_p2026_03", $"{name}_p2026_03", $"{name}_p2026_04", $"{name}_p2026_04"],
            await database.DataSource.ColumnAsync($"SELECT tableoid::regclass::text FROM {name} ORDER BY id"));
        var health = Assert.Single(await maintenance.GetHealthAsync());
        Assert.Equal(0, health.DefaultPartitionRows);
        var april = Assert.Single(health.Partitions, p => p.Name == name + "_p2026_04");
        Assert.Equal((new DateTime(2026, 4, 1, 0, 0, 0, DateTimeKind.Utc), new DateTime(2026, 5, 1, 0, 0, 0, DateTimeKind.Utc)), (april.From, april.To));
        Assert.Equal(
            ["_p1899_12", "_p1969_12", "_p1970_01", "_p2026_03", "_p2026_04", "_p2026_09", "_p2026_10", "_p2026_11", "_p2026_12", "_p2027_01", "_default"],
            health.Partitions.OrderBy(p => p.IsDefault).ThenBy(p => p.From).Select(p => p.Name[name.Length..]));

        var again = await maintenance.RunMaintenanceAsync();
        Assert.Empty(again.Failures);
        Assert.Empty(again.Actions);
    }

    /// <summary>
    /// A default partition holding rows that no period can hold (<c>infinity</c>, <c>-infinity</c>, a date BC, a year
    /// past 9999): they stay in the default, each run reports them once as the table's failure naming the count, and
    /// everything else of the table is still maintained. An <c>infinity</c> failed the table's planning with an
    /// ArgumentOutOfRangeException (no partition was created ahead any more, so INSERTs of the next period failed), and
    /// <c>-infinity</c> was "moved" into a new, empty partition of January of year 1, whose creation then failed every
    /// later run.
    /// </summary>
    [Theory]
    [InlineData("m_inf_plus", "timestamptz", "infinity")]
    [InlineData("m_inf_minus", "timestamptz", "-infinity")]
    [InlineData("m_inf_bc", "timestamptz", "0044-03-15 12:00:00+00 BC")]
    [InlineData("m_inf_far", "timestamptz", "10000-06-15 00:00:00+00")]
    [InlineData("m_inf_date", "date", "-infinity")]
    [InlineData("m_inf_ts", "timestamp", "infinity")]
    public async Task Rows_no_period_can_hold_stay_in_the_default_partition_and_are_reported_while_the_rest_is_maintained(
        string name, string columnType, string value)
    {
        // January of year 1, the first period that can hold rows, is far past the default MaxPastPeriods: raised for the test.
        var (host, _, maintenance) = await TableAsync(name, t => t.MaxPastPeriods = 100_000, columnType: columnType, services: s => s.AddFakeLogging());
        using var _ = host;
        await database.DataSource.ExecAsync($"CREATE TABLE {name}_default PARTITION OF {name} DEFAULT");
        await database.DataSource.ExecAsync($"INSERT INTO {name} VALUES (1, '{value}', 'endless'), (2, '2026-03-15', 'march'), (3, '0001-01-01', 'year one')");

        for (var run = 1; run <= 2; run++)
        {
            var result = await maintenance.RunMaintenanceAsync();
            var failure = Assert.Single(result.Failures);
            Assert.Null(failure.Action);
            var error = Assert.IsType<InvalidOperationException>(failure.Error);
            Assert.Contains($"1 rows of \"public\".\"{name}_default\"", error.Message, StringComparison.Ordinal);
            Assert.Contains("infinity", error.Message, StringComparison.Ordinal);
            Assert.Equal(
                run == 1
                    ? [$"Create {name}_p2026_09", $"Create {name}_p2026_10", $"Create {name}_p2026_11", $"Create {name}_p2026_12", $"Create {name}_p2027_01",
                        $"MoveFromDefault {name}_p0001_01", $"MoveFromDefault {name}_p2026_03"]
                    : [],
                result.Actions.Select(a => $"{a.Kind} {a.Partition}"));
        }

        Assert.Equal([$"{name}_default", $"{name}_p2026_03", $"{name}_p0001_01"],
            await database.DataSource.ColumnAsync($"SELECT tableoid::regclass::text FROM {name} ORDER BY id"));
        Assert.Equal(1, Assert.Single(await maintenance.GetHealthAsync()).DefaultPartitionRows);
    }

    /// <summary>
    /// A partition bounded by <c>'-infinity'</c> or <c>'infinity'</c> (a catch-all for old or future rows, made by hand):
    /// reading its bound threw a FormatException, so the table could not be planned at all (no partition was created
    /// ahead, no retention ran) and <c>PruningBounds.PartitionsAsync</c> failed. They are read like MINVALUE and MAXVALUE:
    /// the one from <c>-infinity</c> is left to its owner (and counted past retention), the one to <c>infinity</c> covers
    /// every period from its start, so none is created there.
    /// </summary>
    [Fact]
    public async Task Partitions_bounded_by_infinity_are_read_like_MINVALUE_and_MAXVALUE()
    {
        var (host, _, maintenance) = await TableAsync("m_infbound", t => t.Retention = 2);
        using var _ = host;
        await database.DataSource.ExecAsync(
            "CREATE TABLE m_infbound_old PARTITION OF m_infbound FOR VALUES FROM ('-infinity') TO ('2026-01-01 00:00:00+00');"
            + "CREATE TABLE m_infbound_p2026_02 PARTITION OF m_infbound FOR VALUES FROM ('2026-02-01 00:00:00+00') TO ('2026-03-01 00:00:00+00');"
            + "CREATE TABLE m_infbound_later PARTITION OF m_infbound FOR VALUES FROM ('2026-12-01 00:00:00+00') TO ('infinity');"
            + "INSERT INTO m_infbound VALUES (1, '-infinity', 'old'), (2, '2026-02-02 00:00:00+00', 'expired'), (3, '2030-01-01 00:00:00+00', 'later')");

        var result = await maintenance.RunMaintenanceAsync();
        Assert.Empty(result.Failures);
        Assert.Equal(["Create m_infbound_p2026_11", "Drop m_infbound_p2026_02"], result.Actions.Select(a => $"{a.Kind} {a.Partition}"));
        Assert.Equal(2L, await database.DataSource.ScalarAsync<long>("SELECT count(*) FROM m_infbound"));
        var health = Assert.Single(await maintenance.GetHealthAsync());
        Assert.Equal((0, 1), (health.MissingFuturePartitions, health.PartitionsPastRetention));
        var later = Assert.Single(health.Partitions, p => p.Name == "m_infbound_later");
        Assert.Equal((new DateTime(2026, 12, 1, 0, 0, 0, DateTimeKind.Utc), (DateTime?)null), (later.From, later.To));
        Assert.Equal(["\"public\".\"m_infbound_later\"", "\"public\".\"m_infbound_p2026_11\""],
            await ScaleOps.Partitioning.Queries.PruningBounds.PartitionsAsync(database.DataSource, "public", "m_infbound",
                new DateTime(2026, 11, 15, 0, 0, 0, DateTimeKind.Utc), new DateTime(2027, 3, 1, 0, 0, 0, DateTimeKind.Utc)));
    }
}
