using System;
using System.Collections.Generic;
using System.Threading;
using System.Threading.Tasks;
using Npgsql;
using NpgsqlTypes;
using ScaleOps.Tenancy;

namespace ScaleOps.Jobs.Internal;

/// <summary>The admin API's statements.</summary>
internal sealed partial class JobStore
{
    public Task<List<JobInfo>> JobListAsync(JobQuery query, CancellationToken cancellationToken) =>
        QueryAsync(_sql.List, p =>
        {
            p.Add(Nullable("state", NpgsqlDbType.Text, query.State is { } s ? StateName(s) : null));
            p.Add(Nullable("queue", NpgsqlDbType.Text, query.Queue));
            p.Add(Nullable("tenant", NpgsqlDbType.Text, query.Tenant?.Value));
            p.Add(Nullable("kind", NpgsqlDbType.Text, query.Kind));
            p.Add(Nullable("before", NpgsqlDbType.Bigint, query.Before));
            p.Add(new NpgsqlParameter<int>("limit", query.Limit));
        }, ReadInfo, cancellationToken);

    public async Task<JobInfo?> JobGetAsync(long id, CancellationToken cancellationToken)
    {
        var rows = await QueryAsync(_sql.GetOne, p => p.Add(new NpgsqlParameter<long>("id", id)), ReadInfo, cancellationToken)
            .ConfigureAwait(false);
        return rows.Count == 0 ? null : rows[0];
    }

    /// <summary>Retries one dead job; returns whether it was retried. Throws when its unique key is live again.</summary>
    public async Task<bool> JobRetryDeadAsync(long id, DateTimeOffset now, CancellationToken cancellationToken)
    {
        try
        {
            var rows = await QueryAsync(_sql.RetryDead, p =>
            {
                p.Add(new NpgsqlParameter<long>("id", id));
                p.Add(new NpgsqlParameter<DateTimeOffset>("now", now));
            }, r => r.GetInt64(0), cancellationToken).ConfigureAwait(false);
            return rows[0] > 0;
        }
        catch (PostgresException ex) when (ex.SqlState == PostgresErrorCodes.UniqueViolation)
        {
            throw UniqueKeyLive(ex);
        }
    }

    public async Task<bool> JobDiscardDeadAsync(long id, CancellationToken cancellationToken) =>
        await ExecuteAsync(_sql.DiscardDead, p => p.Add(new NpgsqlParameter<long>("id", id)), cancellationToken).ConfigureAwait(false) > 0;

    private static InvalidOperationException UniqueKeyLive(PostgresException ex) =>
        new("A dead job cannot be retried while an equal job (same kind, tenant and unique key) is pending or running.", ex);

    /// <summary>Cancels a pending job; its finished_at is the database's clock.</summary>
    public Task<int> JobCancelAsync(long id, CancellationToken cancellationToken) =>
        ExecuteAsync(_sql.Cancel, p => p.Add(new NpgsqlParameter<long>("id", id)), cancellationToken);

    public Task<List<QueueStats>> QueueStatsAsync(DateTimeOffset now, CancellationToken cancellationToken) =>
        QueryAsync(_sql.QueueStats, p => p.Add(new NpgsqlParameter<DateTimeOffset>("now", now)), r => new QueueStats
        {
            Queue = r.GetString(0),
            Available = r.GetInt64(1),
            Scheduled = r.GetInt64(2),
            Running = r.GetInt64(3),
            Succeeded = r.GetInt64(4),
            Dead = r.GetInt64(5),
            Cancelled = r.GetInt64(6),
            OldestWait = r.IsDBNull(7) ? TimeSpan.Zero : Max(now - r.GetFieldValue<DateTimeOffset>(7)),
        }, cancellationToken);

    internal static string StateName(JobState state) => state switch
    {
        JobState.Pending => "pending",
        JobState.Running => "running",
        JobState.Succeeded => "succeeded",
        JobState.Dead => "dead",
        JobState.Cancelled => "cancelled",
        _ => throw new ArgumentOutOfRangeException(nameof(state), state, "Unknown job state."),
    };

    private static JobState ParseState(string state) => state switch
    {
        "pending" => JobState.Pending,
        "running" => JobState.Running,
        "succeeded" => JobState.Succeeded,
        "dead" => JobState.Dead,
        _ => JobState.Cancelled,
    };

    private static TimeSpan Max(TimeSpan value) => value < TimeSpan.Zero ? TimeSpan.Zero : value;

    private static JobInfo ReadInfo(NpgsqlDataReader r) => new()
    {
        Id = r.GetInt64(0),
        Queue = r.GetString(1),
        Kind = r.GetString(2),
        // A tenant id an earlier version stored and the current rules refuse: no TenantId (the listing used to throw).
        Tenant = r.GetString(3) is { Length: > 0 } t && TenantId.TryParse(t, out var tenant) ? tenant : null,
        StoredTenantId = r.GetString(3),
        State = ParseState(r.GetString(4)),
        Priority = (JobPriority)r.GetInt16(5),
        Attempt = r.GetInt32(6),
        MaxAttempts = r.GetInt32(7),
        RunAt = JobValues.Stored(r.GetFieldValue<DateTimeOffset>(8)),
        CreatedAt = JobValues.Stored(r.GetFieldValue<DateTimeOffset>(9)),
        AttemptedAt = r.IsDBNull(10) ? null : JobValues.Stored(r.GetFieldValue<DateTimeOffset>(10)),
        FinishedAt = r.IsDBNull(11) ? null : JobValues.Stored(r.GetFieldValue<DateTimeOffset>(11)),
        LastError = r.IsDBNull(12) ? null : r.GetString(12),
        UniqueKey = r.IsDBNull(13) ? null : r.GetString(13),
        ConcurrencyKey = r.IsDBNull(14) ? null : r.GetString(14),
        Payload = r.GetString(15),
    };
}
