using System;
using System.Linq;
using System.Threading.Tasks;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using Microsoft.Extensions.Logging.Testing;
using ScaleOps.Partitioning.Archive;
using ScaleOps.Partitioning.Lifecycle;

namespace ScaleOps.Partitioning.Tests.Archive;

public partial class ArchiveTests
{
    /// <summary>
    /// <c>scaleops.partitioning.archive.rows</c> ({row}) counts the rows of each partition archived and verified (not
    /// those restored); each archive step is logged (4020) and a restore too (4021).
    /// </summary>
    [Fact]
    public async Task Archived_rows_are_metered_and_archive_steps_and_restores_are_logged()
    {
        var (host, _, checksum) = await TableAsync("ar_metered", rows: 50, services: s => s.AddFakeLogging());
        using var _ = host;
        using var rows = new MetricCollector<long>(host.Services.GetRequiredService<ScaleOps.Diagnostics.ScaleOpsMetrics>().Meter, "scaleops.partitioning.archive.rows");
        var logs = host.Services.GetFakeLogCollector();
        logs.Clear();

        var result = await host.Services.GetRequiredService<IPartitionMaintenance>().RunMaintenanceAsync();
        Assert.Equal(["Archive ar_metered_p2026_09", "Archive ar_metered_p2026_10"],
            result.Actions.Where(a => a.Kind == PartitionActionKind.Archive).Select(a => $"{a.Kind} {a.Partition}"));
        Assert.Equal("{row}", rows.Instrument!.Unit);
        Assert.Equal([0L, 50L], rows.GetMeasurementSnapshot().Select(m => m.Value).Order()); // September's 50 rows, October empty
        var steps = logs.GetSnapshot().Where(r => r.Id.Id == 4020).Select(r => r.Message).ToList();
        Assert.Contains("Archive of ar_metered_p2026_09: Exported (50 rows)", steps);
        Assert.Contains("Archive of ar_metered_p2026_09: Verified (50 rows)", steps);
        Assert.Contains("Archive of ar_metered_p2026_10: Exported (0 rows)", steps);
        Assert.Equal( // the removal says it followed an archive (it used to read "Retention dropped", also for an archive on request)
            ["Archived and dropped partition ar_metered_p2026_09 of \"public\".\"ar_metered\"", "Archived and dropped partition ar_metered_p2026_10 of \"public\".\"ar_metered\""],
            logs.GetSnapshot().Where(r => r.Id.Id == 4002).Select(r => r.Message).Order(StringComparer.Ordinal));

        Assert.Equal(50, await host.Services.GetRequiredService<IPartitionArchiver>().RestoreAsync("public", "ar_metered", "ar_metered_p2026_09"));
        Assert.Equal(checksum, await ChecksumAsync("ar_metered"));
        Assert.Equal(["Restored 50 rows of archived partition ar_metered_p2026_09"],
            logs.GetSnapshot().Where(r => r.Id.Id == 4021).Select(r => r.Message));
        Assert.Equal(50L, rows.GetMeasurementSnapshot().Sum(m => m.Value));
    }
}
