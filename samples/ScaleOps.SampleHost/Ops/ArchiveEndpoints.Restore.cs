using System;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using ScaleOps.Data;
using ScaleOps.Partitioning;
using ScaleOps.Partitioning.Archive;
using ScaleOps.Partitioning.Lifecycle;
using ScaleOps.SampleHost.Http;

namespace ScaleOps.SampleHost.Ops;

/// <summary><c>POST /ops/partitions/{schema}/{table}/{partition}/restore</c>: an archived partition back in PostgreSQL.</summary>
public static partial class ArchiveEndpoints
{
    /// <summary>
    /// Re-imports an archived partition (<see cref="IPartitionArchiver.RestoreAsync"/>: the file verified against its
    /// manifest, loaded into a new table and attached with its original bounds, grants and row-level security) and answers
    /// the number of rows restored. A restore whose rows committed but whose manifest update failed is finished by calling
    /// it again. Another database's archive is never restored here (the archiver's <c>allowOtherDatabase</c> stays false).
    /// </summary>
    private static async Task<IResult> RestoreAsync(string schema, string table, string partition, IPartitionArchiver archiver,
        IPartitionMaintenance maintenance, IOptions<PartitioningOptions> options, IConfiguration configuration, ILoggerFactory loggers,
        CancellationToken cancellationToken)
    {
        if (NameProblem(schema, table, partition) is { } problem)
        {
            return problem;
        }

        if (string.IsNullOrWhiteSpace(options.Value.BlobConnectionString) && string.IsNullOrWhiteSpace(configuration.GetConnectionString("Blob")))
        {
            return Problems.Conflict("Blob storage is not configured (ConnectionStrings:Blob): there are no archives to restore.");
        }

        try
        {
            // Not found is decided here, as for an archive: the archiver's InvalidOperationException for it is the type its
            // other refusals and failures throw, and its message is meant for the log.
            var qualified = SqlIdentifier.Qualify(schema, table);
            if (!(await maintenance.GetHealthAsync(cancellationToken)).Any(h => h.Table == qualified))
            {
                return Problems.NotFound($"{schema}.{table} is not a partitioned table this host maintains.");
            }

            if (await archiver.GetManifestAsync(schema, table, partition, cancellationToken) is null)
            {
                return Problems.NotFound($"{schema}.{table} partition {partition} has no archive.");
            }

            var rows = await archiver.RestoreAsync(schema, table, partition, cancellationToken: cancellationToken);
            return TypedResults.Ok(new { schema, table, partition, rows });
        }
        catch (Exception ex) when (IsBlobFailure(ex) || (ex is InvalidOperationException { InnerException: { } inner } && IsBlobFailure(inner)))
        {
            // Before the rows are in, nothing is restored; after (the manifest update), running the restore again finishes it.
            return BlobUnavailable(ex, loggers, schema, table, partition);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            // A refusal (the archive is another database's, a table of that name stands, the partition holds other rows; nothing
            // is restored then) or any other failure: a 500 that quotes nothing; the reason, which names tables, blobs and
            // servers, goes to the log under the response's trace id.
            LogRestoreFailure(loggers.CreateLogger(typeof(ArchiveEndpoints).FullName!), schema, table, partition, ex);
            return Problems.InternalError("Restoring failed; the host's log has the error (under this response's traceId).");
        }
    }

    private static readonly Action<ILogger, string, string, string, Exception?> LogRestoreFailure = LoggerMessage.Define<string, string, string>(
        LogLevel.Error, new EventId(3, "RestoreFailed"), "Restoring {Schema}.{Table} partition {Partition} failed");
}
