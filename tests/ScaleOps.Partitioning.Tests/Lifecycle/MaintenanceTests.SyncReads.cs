using System;
using System.Linq;
using System.Threading.Tasks;
using ScaleOps.TestInfrastructure;
using Xunit;

namespace ScaleOps.Partitioning.Tests.Lifecycle;

public partial class MaintenanceTests
{
    /// <summary>
    /// A run with nothing to change reads the catalogs of both partition syncs (row-level security and grants) in one
    /// round trip per table. Each read on a connection of its own, after its own check of the maintenance lock: four
    /// round trips per table on every run, and "nothing to do" took 1.31-1.33x pg_partman's run_maintenance time on
    /// 500,000 rows (0.88-1.01x before the syncs existed).
    /// </summary>
    [Fact]
    public async Task A_quiet_run_reads_both_sync_catalogs_in_one_round_trip_per_table()
    {
        var (host, _, maintenance) = await TableAsync("m_sync_reads");
        using var _ = host;
        Assert.Empty((await maintenance.RunMaintenanceAsync()).Failures);

        using var recorder = new ActivityRecorder("Npgsql");
        var quiet = await maintenance.RunMaintenanceAsync();
        Assert.Empty(quiet.Failures);
        Assert.Empty(quiet.Actions);

        var sent = recorder.Stopped
            .Where(a => Equals(a.GetTagItem("db.namespace"), database.Name) && a.GetTagItem("db.query.text") is string)
            .Select(a => (string)a.GetTagItem("db.query.text")!)
            .ToList();
        var syncReads = sent.Where(q => q.Contains("(GrantSync compares them)", StringComparison.Ordinal)
            || q.Contains("(RowSecuritySync compares them)", StringComparison.Ordinal)).ToList();
        var read = Assert.Single(syncReads);
        Assert.Contains("(GrantSync compares them)", read, StringComparison.Ordinal);
        Assert.Contains("(RowSecuritySync compares them)", read, StringComparison.Ordinal);
        Assert.Single(sent, q => q.Contains("locktype = 'advisory'", StringComparison.Ordinal)); // the lock checked once for both
    }
}
