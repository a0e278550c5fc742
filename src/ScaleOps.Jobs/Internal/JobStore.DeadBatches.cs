using System;
using System.Collections.Generic;
using System.Threading;
using System.Threading.Tasks;
using Npgsql;
using NpgsqlTypes;

namespace ScaleOps.Jobs.Internal;

/// <summary>
/// The admin API's bulk retry and discard of dead jobs, in batches. One statement over every dead job was one long
/// transaction holding all their row locks (hundreds of thousands with a large backlog) and bloating the table at once.
/// Now the ids of the jobs dead when the call starts are read first (one short read-only statement; at most 24 bytes of
/// memory per job, about 24 MB for a million), then changed <see cref="DeadBatchSize"/> at a time, each batch its own statement and transaction, by id:
/// a job is handled at most once (one that dies again after its retry, or dies only during the call, is left for the
/// next call), a job changed meanwhile by someone else (no longer dead) is neither changed nor counted, and the token
/// is checked between batches (the batches done stay done).
/// </summary>
internal sealed partial class JobStore
{
    /// <summary>Retries the dead jobs of a queue (or all) in batches; returns how many were retried and how many skipped.</summary>
    public async Task<(int Retried, int Skipped)> JobRetryAllDeadAsync(string? queue, DateTimeOffset now, CancellationToken cancellationToken)
    {
        var dead = await QueryAsync(_sql.DeadToRetry, p => p.Add(Nullable("queue", NpgsqlDbType.Text, queue)),
            r => (Id: r.GetInt64(0), Newest: r.GetBoolean(1)), cancellationToken).ConfigureAwait(false);
        var ids = new List<long>(dead.Count);
        var skipped = 0;
        foreach (var job in dead)
        {
            if (job.Newest)
            {
                ids.Add(job.Id);
            }
            else
            {
                // An older dead job of a unique key whose newest dead job is retried instead.
                skipped++;
            }
        }

        var retried = 0;
        foreach (var batch in Batches(ids))
        {
            cancellationToken.ThrowIfCancellationRequested();
            var (r, s) = await RetryDeadBatchAsync(batch, now, cancellationToken).ConfigureAwait(false);
            retried += r;
            skipped += s;
        }

        return (retried, skipped);
    }

    /// <summary>Deletes the dead jobs of a queue (or all) in batches; returns how many were deleted.</summary>
    public async Task<int> JobDiscardAllDeadAsync(string? queue, CancellationToken cancellationToken)
    {
        var ids = await QueryAsync(_sql.DeadIds, p => p.Add(Nullable("queue", NpgsqlDbType.Text, queue)), r => r.GetInt64(0), cancellationToken)
            .ConfigureAwait(false);
        var deleted = 0;
        foreach (var batch in Batches(ids))
        {
            cancellationToken.ThrowIfCancellationRequested();
            deleted += await ExecuteAsync(_sql.DiscardDeadMany, p => p.Add(new NpgsqlParameter<long[]>("ids", batch)), cancellationToken)
                .ConfigureAwait(false);
        }

        return deleted;
    }

    private async Task<(int Retried, int Skipped)> RetryDeadBatchAsync(long[] ids, DateTimeOffset now, CancellationToken cancellationToken)
    {
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                var rows = await QueryAsync(_sql.RetryDeadMany, p =>
                {
                    p.Add(new NpgsqlParameter<long[]>("ids", ids));
                    p.Add(new NpgsqlParameter<DateTimeOffset>("now", now));
                }, r => ((int)r.GetInt64(0), (int)r.GetInt64(1)), cancellationToken).ConfigureAwait(false);
                return rows[0];
            }
            catch (PostgresException ex) when (ex.SqlState == PostgresErrorCodes.UniqueViolation && attempt < 3)
            {
                // An equal job was enqueued between the statement's check and its update: the batch rolled back, and
                // the next run of it skips that job.
            }
            catch (PostgresException ex) when (ex.SqlState == PostgresErrorCodes.UniqueViolation)
            {
                throw UniqueKeyLive(ex);
            }
        }
    }

    private IEnumerable<long[]> Batches(List<long> ids)
    {
        var size = DeadBatchSize;
        for (var start = 0; start < ids.Count; start += size)
        {
            yield return ids.GetRange(start, Math.Min(size, ids.Count - start)).ToArray();
        }
    }
}
