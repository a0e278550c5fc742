using System;
using System.Collections.Generic;
using System.Threading;
using System.Threading.Tasks;
using Npgsql;
using ScaleOps.Data;
using ScaleOps.Jobs;
using ScaleOps.Tenancy;

namespace ScaleOps.SampleHost.Documents;

/// <summary>
/// The job that deletes expired <c>Idempotency-Key</c> rows of every tenant: enqueued every hour by the recurring
/// schedule <see cref="IdempotencyKeyPurge.ScheduleName"/> (from the first tenant), and by each run for the tenants it
/// left (<see cref="FromTenant"/>, the first one the next run visits).
/// </summary>
[JobKind("idempotency-keys.purge")]
public sealed record PurgeIdempotencyKeys(string? FromTenant = null);

/// <summary>What one run did: the tenants it finished, the keys it deleted, and the tenant the next run starts at (or none).</summary>
public sealed record KeyPurgeResult(int Tenants, long Deleted, string? NextTenant);

/// <summary>
/// Deletes keys past <see cref="Retention"/>, tenant by tenant, each tenant in its own scope: the statements go through
/// <see cref="ITenantDataSource"/> like a request's, so row-level security confines each one to that tenant (the sample
/// has no role that bypasses it; <c>app.tenants</c>, which is not a tenant table, lists them). Bounded: one run visits at
/// most <see cref="TenantsPerRun"/> tenants and sends at most <see cref="StatementsPerRun"/> deletes of at most
/// <see cref="BatchSize"/> rows; what is left goes to the next run. <c>FOR UPDATE SKIP LOCKED</c>: a key a create is
/// taking over right now is left to it, never waited for. The cutoff is PostgreSQL's <c>clock_timestamp()</c> minus the
/// retention, the clock the claim writes <c>created_at</c> with (<see cref="DocumentStore.KeyRetention"/>).
/// </summary>
public sealed class IdempotencyKeyPurge(NpgsqlDataSource dataSource, ITenantDataSource data, ITenantContext tenants)
{
    /// <summary>The recurring schedule's name (unique in the database).</summary>
    public const string ScheduleName = "idempotency-keys.purge";

    /// <summary>Every hour, at minute 17 (off the hour, when other schedules tend to fire).</summary>
    public const string Cron = "17 * * * *";

    /// <summary>The queue of the purge jobs (one at a time per host).</summary>
    public const string Queue = "maintenance";

    private const string DeleteSql =
        """
        WITH cutoff AS (SELECT clock_timestamp() - $2 AS at),
        expired AS (
            SELECT k.key FROM app.idempotency_keys k, cutoff
            WHERE k.tenant_id = $1 AND k.created_at <= cutoff.at
            LIMIT $3
            FOR UPDATE OF k SKIP LOCKED)
        DELETE FROM app.idempotency_keys k USING expired, cutoff
        WHERE k.tenant_id = $1 AND k.key = expired.key AND k.created_at <= cutoff.at
        """;

    /// <summary>How old a key must be to go; <see cref="DocumentStore.KeyRetention"/> (the tests shorten it).</summary>
    public TimeSpan Retention { get; init => field = Positive(value); } = DocumentStore.KeyRetention;

    /// <summary>The most rows one statement deletes.</summary>
    public int BatchSize { get; init => field = AtLeastOne(value); } = 1_000;

    /// <summary>The most delete statements of one run (each tenant visited takes one at least).</summary>
    public int StatementsPerRun { get; init => field = AtLeastOne(value); } = 2_000;

    /// <summary>The most tenants one run visits.</summary>
    public int TenantsPerRun { get; init => field = AtLeastOne(value); } = 1_000;

    /// <summary>
    /// The options of the purge jobs: the schedule's (<paramref name="afterJob"/> null) is not enqueued again while one
    /// waits or runs; the run after job <paramref name="afterJob"/> is enqueued once, however often that job is tried.
    /// </summary>
    public static JobOptions Job(long? afterJob) => new()
    {
        Queue = Queue,
        MaxAttempts = 5,
        UniqueKey = afterJob is null ? "from-start" : $"after-job:{afterJob}",
    };

    /// <summary>
    /// One run: the tenants from <paramref name="fromTenant"/> on (the first when null), in the order of their ids.
    /// </summary>
    public async Task<KeyPurgeResult> PurgeAsync(string? fromTenant, CancellationToken cancellationToken)
    {
        var page = await TenantsAsync(fromTenant, TenantsPerRun + 1, cancellationToken);
        var statements = 0;
        var deleted = 0L;
        var finished = 0;
        for (var i = 0; i < Math.Min(page.Count, TenantsPerRun); i++)
        {
            using var scope = tenants.BeginScope(new TenantId(page[i]));
            await using var connection = await data.OpenConnectionAsync(cancellationToken: cancellationToken);
            int removed;
            do
            {
                if (statements == StatementsPerRun)
                {
                    // The budget is spent with this tenant not done (or not begun): the next run starts with it.
                    return new KeyPurgeResult(finished, deleted, page[i]);
                }

                statements++;
                await using var batch = connection.CreateBatch(DeleteSql, page[i], Retention, BatchSize);
                removed = await batch.ExecuteNonQueryAsync(cancellationToken);
                deleted += removed;
            }
            while (removed == BatchSize);

            finished++;
        }

        return new KeyPurgeResult(finished, deleted, page.Count > TenantsPerRun ? page[TenantsPerRun] : null);
    }

    private async Task<List<string>> TenantsAsync(string? fromTenant, int limit, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand(fromTenant is null
            ? "SELECT id FROM app.tenants ORDER BY id LIMIT $1"
            : "SELECT id FROM app.tenants WHERE id >= $2 ORDER BY id LIMIT $1");
        command.Parameters.Add(new NpgsqlParameter<int> { TypedValue = limit });
        if (fromTenant is not null)
        {
            command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = fromTenant });
        }

        var ids = new List<string>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            ids.Add(reader.GetString(0));
        }

        return ids;
    }

    private static int AtLeastOne(int value) => value >= 1
        ? value
        : throw new ArgumentOutOfRangeException(nameof(value), value, "The purge's batch size and its limits per run must be at least 1.");

    private static TimeSpan Positive(TimeSpan value) => value > TimeSpan.Zero
        ? value
        : throw new ArgumentOutOfRangeException(nameof(value), value, "The retention of idempotency keys must be positive.");
}

/// <summary>
/// Runs one purge and enqueues the next run when tenants are left, so no run's work grows with the number of tenants.
/// A job without a tenant: each tenant's deletes open that tenant's scope themselves.
/// </summary>
public sealed class PurgeIdempotencyKeysHandler(IdempotencyKeyPurge purge, IJobClient jobs) : IJobHandler<PurgeIdempotencyKeys>
{
    public async Task HandleAsync(PurgeIdempotencyKeys payload, JobContext context, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(payload);
        ArgumentNullException.ThrowIfNull(context);
        var result = await purge.PurgeAsync(payload.FromTenant, cancellationToken);
        if (result.NextTenant is { } next)
        {
            await jobs.EnqueueAsync(new PurgeIdempotencyKeys(next), IdempotencyKeyPurge.Job(context.Id), cancellationToken);
        }
    }
}
