using System;
using System.Collections.Generic;
using System.Threading;
using System.Threading.Tasks;
using Npgsql;
using NpgsqlTypes;
using ScaleOps.Data;

namespace ScaleOps.Jobs.Internal;

/// <summary>The worker's statements: fetch, complete, heartbeat, release, rescue, retention.</summary>
internal sealed partial class JobStore
{
    /// <summary>
    /// Starts up to <paramref name="limit"/> due jobs of a queue; see <c>JobFetch.sql</c> for the fairness rules. Due is
    /// judged on <paramref name="now"/> (the host's estimate of the database's clock, <c>DatabaseClock</c>) and on the
    /// database's own; the leases run for <paramref name="lease"/> on the database's.
    /// </summary>
    public async Task<FetchResult> JobFetchAvailableAsync(
        string queue, int limit, string? cursor, int tenantCap, DateTimeOffset now, TimeSpan lease,
        CancellationToken cancellationToken)
    {
        await using var connection = await _dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using var batch = new NpgsqlBatch(connection);
        var lockCommand = new NpgsqlBatchCommand("SELECT pg_advisory_xact_lock(@key)");
        lockCommand.Parameters.Add(new NpgsqlParameter<long>("key", AdvisoryLock.KeyOf("scaleops:jobs:fetch:" + _schema + ":" + queue)));
        batch.BatchCommands.Add(lockCommand);
        var fetch = new NpgsqlBatchCommand(_sql.Fetch);
        var p = fetch.Parameters;
        p.Add(new NpgsqlParameter<string>("queue", queue));
        p.Add(new NpgsqlParameter<int>("limit", limit));
        p.Add(new NpgsqlParameter<int>("max_tenants", limit));
        p.Add(new NpgsqlParameter<int>("max_scan", limit + JobsDefaults.FetchTenantsPassedOver));
        p.Add(new NpgsqlParameter("cursor", NpgsqlDbType.Text) { Value = (object?)cursor ?? DBNull.Value });
        p.Add(new NpgsqlParameter<int>("tenant_cap", tenantCap));
        p.Add(new NpgsqlParameter<DateTimeOffset>("now", now));
        p.Add(new NpgsqlParameter<TimeSpan>("lease", lease));
        batch.BatchCommands.Add(fetch);
        await batch.PrepareAsync(cancellationToken).ConfigureAwait(false);

        var jobs = new List<FetchedJob>(limit);
        string? nextCursor = null;
        var more = false;
        var passedOver = 0;
        await using var reader = await batch.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        await reader.NextResultAsync(cancellationToken).ConfigureAwait(false);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            if (reader.IsDBNull(0))
            {
                // The scan's summary row.
                nextCursor = reader.IsDBNull(10) ? null : reader.GetString(10);
                more = reader.GetBoolean(11);
                passedOver = (int)reader.GetInt64(12);
                continue;
            }

            jobs.Add(new FetchedJob(
                reader.GetInt64(0), queue, reader.GetString(1), reader.GetString(2), reader.GetString(3), reader.GetInt32(4),
                reader.GetInt32(5), reader.IsDBNull(6) ? null : reader.GetInt32(6), JobValues.Stored(reader.GetFieldValue<DateTimeOffset>(7)),
                JobValues.Stored(reader.GetFieldValue<DateTimeOffset>(8)), reader.GetInt64(9)));
        }

        return new FetchResult(jobs, nextCursor, more, passedOver);
    }

    /// <summary>
    /// Writes a batch of outcomes in one round trip (one transaction): successes, then failures. Returns null when every
    /// outcome was written; otherwise the leases whose outcome was written (the others were rejected by the lease guard:
    /// the job was rescued, given back or changed meanwhile). The finished jobs' finished_at is the database's clock.
    /// </summary>
    public async Task<HashSet<LeaseToken>?> JobCompleteManyAsync(
        IReadOnlyList<Completion> completions, bool deleteSucceeded, CancellationToken cancellationToken)
    {
        if (completions.Count == 0)
        {
            return null;
        }

        var succeeded = 0;
        foreach (var c in completions)
        {
            if (c.Kind == CompletionKind.Succeeded)
            {
                succeeded++;
            }
        }

        var failed = completions.Count - succeeded;
        var okIds = new long[succeeded];
        var okLeases = new long[succeeded];
        var failIds = new long[failed];
        var failLeases = new long[failed];
        var errors = new string?[failed];
        var retryAts = new DateTimeOffset[failed];
        var dead = new bool[failed];
        int i = 0, j = 0;
        foreach (var c in completions)
        {
            if (c.Kind == CompletionKind.Succeeded)
            {
                okIds[i] = c.Id;
                okLeases[i++] = c.LeaseId;
            }
            else
            {
                failIds[j] = c.Id;
                failLeases[j] = c.LeaseId;
                errors[j] = c.Error;
                retryAts[j] = c.RetryAt;
                dead[j++] = c.Kind == CompletionKind.Dead;
            }
        }

        await using var connection = await _dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using var batch = NewLeaseBatch(connection);
        if (succeeded > 0)
        {
            var ok = new NpgsqlBatchCommand((deleteSucceeded ? _sql.DeleteSucceededMany : _sql.SucceedMany).For(succeeded));
            ok.Parameters.Add(new NpgsqlParameter<long[]>("ids", okIds));
            ok.Parameters.Add(new NpgsqlParameter<long[]>("leases", okLeases));
            batch.BatchCommands.Add(ok);
        }

        if (failed > 0)
        {
            var fail = new NpgsqlBatchCommand(_sql.FailMany.For(failed));
            fail.Parameters.Add(new NpgsqlParameter<long[]>("ids", failIds));
            fail.Parameters.Add(new NpgsqlParameter<long[]>("leases", failLeases));
            fail.Parameters.Add(new NpgsqlParameter("errors", NpgsqlDbType.Array | NpgsqlDbType.Text) { Value = errors });
            fail.Parameters.Add(new NpgsqlParameter<DateTimeOffset[]>("retry_ats", retryAts));
            fail.Parameters.Add(new NpgsqlParameter<bool[]>("dead", dead));
            batch.BatchCommands.Add(fail);
        }

        await batch.PrepareAsync(cancellationToken).ConfigureAwait(false);

        // Each statement returns the rows it completed: in the usual case all of them, and only their number matters.
        return await ReadLeasesAsync(batch, completions.Count, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Renews the held leases for <paramref name="lease"/> on the database's clock. Returns null when every one was
    /// renewed; otherwise the leases it renewed (the others are gone: their jobs were rescued, given back or completed meanwhile).
    /// </summary>
    public async Task<HashSet<LeaseToken>?> JobHeartbeatManyAsync(
        IReadOnlyList<LeaseToken> held, TimeSpan lease, CancellationToken cancellationToken)
    {
        await using var connection = await _dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using var batch = NewLeaseBatch(connection, _sql.Heartbeat, held, new NpgsqlParameter<TimeSpan>("lease", lease));
        return await ReadLeasesAsync(batch, held.Count, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Runs a lease batch whose statements return the (id, lease id) of the rows they changed. Returns null when they
    /// changed <paramref name="expected"/> rows (the usual case: only the number is looked at), otherwise those leases.
    /// </summary>
    private static async Task<HashSet<LeaseToken>?> ReadLeasesAsync(NpgsqlBatch batch, int expected, CancellationToken cancellationToken)
    {
        var changed = System.Buffers.ArrayPool<LeaseToken>.Shared.Rent(expected);
        try
        {
            var count = 0;
            await using (var reader = await batch.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false))
            {
                while (await reader.NextResultAsync(cancellationToken).ConfigureAwait(false)) // past the plan setting's row
                {
                    while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false) && count < expected)
                    {
                        changed[count++] = new LeaseToken(reader.GetInt64(0), reader.GetInt64(1));
                    }
                }
            }

            return count == expected ? null : new HashSet<LeaseToken>(new ArraySegment<LeaseToken>(changed, 0, count));
        }
        finally
        {
            System.Buffers.ArrayPool<LeaseToken>.Shared.Return(changed);
        }
    }

    public async Task<int> JobReleaseManyAsync(IReadOnlyList<LeaseToken> held, DateTimeOffset now, CancellationToken cancellationToken)
    {
        await using var connection = await _dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using var batch = NewLeaseBatch(connection, _sql.Release, held, new NpgsqlParameter<DateTimeOffset>("now", now));
        await using var reader = await batch.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        await reader.NextResultAsync(cancellationToken).ConfigureAwait(false); // past the plan setting's row
        await reader.ReadAsync(cancellationToken).ConfigureAwait(false);
        return (int)reader.GetInt64(0);
    }

    /// <summary>A lease batch (<see cref="NewLeaseBatch(NpgsqlConnection, NpgsqlTransaction?)"/>) with one statement on the held leases.</summary>
    private NpgsqlBatch NewLeaseBatch(NpgsqlConnection connection, JobSql.LeaseStatement sql, IReadOnlyList<LeaseToken> held, NpgsqlParameter time)
    {
        var (ids, leaseIds) = Split(held);
        var batch = NewLeaseBatch(connection);
        var command = new NpgsqlBatchCommand(sql.For(ids.Length));
        command.Parameters.Add(new NpgsqlParameter<long[]>("ids", ids));
        command.Parameters.Add(new NpgsqlParameter<long[]>("leases", leaseIds));
        command.Parameters.Add(time);
        batch.BatchCommands.Add(command);
        return batch;
    }

    /// <summary>
    /// A batch for the statements that act on running jobs by (id, lease). Its first command turns nested loops off for
    /// the batch's transaction (<c>LeaseBatchPlan.sql</c>), so joining the batch's ids with the table takes one pass over
    /// each side whatever the table's statistics say.
    /// </summary>
    internal NpgsqlBatch NewLeaseBatch(NpgsqlConnection connection, NpgsqlTransaction? transaction = null)
    {
        var batch = new NpgsqlBatch(connection, transaction);
        batch.BatchCommands.Add(new NpgsqlBatchCommand(_sql.LeaseBatchPlan));
        return batch;
    }

    /// <summary>
    /// Re-queues (or kills) one batch of jobs whose lease expired on the database's clock; the counts per queue and kind.
    /// <paramref name="now"/> (the host's estimate of the database's clock) is only the rescued jobs' new run_at; a job
    /// that dies here finished on the database's clock.
    /// </summary>
    public Task<List<RescuedJobs>> JobRescueExpiredAsync(DateTimeOffset now, int limit, CancellationToken cancellationToken) =>
        QueryAsync(_sql.RescueExpired, p =>
        {
            p.Add(new NpgsqlParameter<DateTimeOffset>("now", now));
            p.Add(new NpgsqlParameter<int>("limit", limit));
        }, r => new RescuedJobs(r.GetString(0), r.GetString(1), (int)r.GetInt64(2), (int)r.GetInt64(3)), cancellationToken);

    /// <summary>
    /// Deletes one batch of jobs in <paramref name="state"/> that finished longer than <paramref name="retention"/> ago on
    /// the database's clock (the clock finished_at is written on).
    /// </summary>
    public Task<int> JobDeleteFinishedAsync(string state, TimeSpan retention, int limit, CancellationToken cancellationToken) =>
        ExecuteAsync(_sql.DeleteFinished, p =>
        {
            p.Add(new NpgsqlParameter<string>("state", state));
            p.Add(new NpgsqlParameter<TimeSpan>("retention", retention));
            p.Add(new NpgsqlParameter<int>("limit", limit));
        }, cancellationToken);

    public Task<List<(string Queue, long Count)>> QueueDepthAsync(DateTimeOffset now, CancellationToken cancellationToken) =>
        QueryAsync(_sql.QueueDepth, p => p.Add(new NpgsqlParameter<DateTimeOffset>("now", now)),
            r => (r.GetString(0), r.GetInt64(1)), cancellationToken);

    private static (long[] Ids, long[] LeaseIds) Split(IReadOnlyList<LeaseToken> held)
    {
        var ids = new long[held.Count];
        var leaseIds = new long[held.Count];
        for (var i = 0; i < held.Count; i++)
        {
            ids[i] = held[i].Id;
            leaseIds[i] = held[i].LeaseId;
        }

        return (ids, leaseIds);
    }
}
