using System;
using System.Collections.Generic;
using System.Runtime.CompilerServices;
using System.Text.Json;
using System.Threading;
using System.Threading.Tasks;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Npgsql;
using ScaleOps.Data;
using ScaleOps.Tenancy;

namespace ScaleOps.Jobs.Internal;

/// <summary>Validates, serializes and inserts jobs through <see cref="JobStore"/>.</summary>
internal sealed class JobClient(
    JobStore store, IOptions<JobsOptions> options, ITenantContext tenants, TimeProvider time, DatabaseClock clock, JobsMetrics metrics,
    LocalDispatch dispatch, ILoggerFactory loggerFactory)
    : IJobClient
{
    private readonly ILogger _logger = loggerFactory.CreateLogger("ScaleOps.Jobs.Client");

    public Task<long?> EnqueueAsync<TPayload>(TPayload payload, JobOptions? options = null, CancellationToken cancellationToken = default) =>
        InsertOneAsync(null, null, payload, options, cancellationToken);

    public Task<long?> EnqueueAsync<TPayload>(
        NpgsqlConnection connection, NpgsqlTransaction? transaction, TPayload payload, JobOptions? options,
        CancellationToken cancellationToken)
    {
        CheckConnection(connection, transaction);
        return InsertOneAsync(connection, transaction, payload, options, cancellationToken);
    }

    public Task<int> EnqueueManyAsync<TPayload>(
        IReadOnlyCollection<TPayload> payloads, JobOptions? options = null, CancellationToken cancellationToken = default) =>
        InsertManyAsync(null, null, payloads, options, cancellationToken);

    public Task<int> EnqueueManyAsync<TPayload>(
        NpgsqlConnection connection, NpgsqlTransaction? transaction, IReadOnlyCollection<TPayload> payloads, JobOptions? options,
        CancellationToken cancellationToken)
    {
        CheckConnection(connection, transaction);
        return InsertManyAsync(connection, transaction, payloads, options, cancellationToken);
    }

    private async Task<long?> InsertOneAsync<TPayload>(
        NpgsqlConnection? connection, NpgsqlTransaction? transaction, TPayload payload, JobOptions? jobOptions, CancellationToken cancellationToken)
    {
        var now = clock.GetUtcNow(); // created_at and a delay's run_at: compared by every host's fetch
        var values = JobValues.Build(JobKind<TPayload>.Name, jobOptions, options.Value, tenants.Tenant, now);
        var json = Serialize(payload);
        // Inside an ambient TransactionScope the pooled connection enlists: the job exists only once the scope commits,
        // which local dispatch cannot wait for (a rolled-back job would run, one committed later would run twice).
        if (connection is null && System.Transactions.Transaction.Current is null && dispatch.Find(values, now) is { } producer)
        {
            return await InsertLocallyAsync(producer, values, json, now, cancellationToken).ConfigureAwait(false);
        }

        return await InsertPendingAsync(connection, transaction, values, json, now, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Local dispatch: with a pooled connection in hand (a wait for the pool holds no slot), a slot of this host's worker
    /// is reserved; the job goes in started (and runs here at once) when nothing due waits in its queue, pending
    /// otherwise. Without a free slot, or when the started insert would wait for a lock (an equal unique key in a
    /// transaction still open), the job is inserted the ordinary way, without the slot. If the started insert fails
    /// otherwise, the slot is given back at once and, in the background, the row it may have committed started (a broken
    /// connection or a cancellation during the commit) is given back too, so it neither waits for its lease to expire
    /// nor has an attempt counted that never ran. If the worker began to stop while the insert ran, the started row is
    /// given back the same way, for another host.
    /// </summary>
    private async Task<long?> InsertLocallyAsync(
        QueueProducer producer, JobInsertValues values, string json, DateTimeOffset now, CancellationToken cancellationToken)
    {
        await using var connection = await store.DataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        if (!producer.TryReserve())
        {
            return await InsertPendingAsync(connection, null, values, json, now, cancellationToken).ConfigureAwait(false);
        }

        // The lease runs on the database's clock; on this host's estimate of it, it bounds how long a failed insert's row is given back.
        var leaseUntil = now + options.Value.LeaseDuration;
        // A random lease id names this insert's row alone (JobUnstart.sql finds it by it); fetches move it on by one.
        var leaseId = Random.Shared.NextInt64(1L << 32, 1L << 62);
        var sent = new StrongBox<bool>();
        long? id;
        bool started;
        try
        {
            (id, started, leaseId) = await store.JobInsertStartedAsync(connection, values, json, now, options.Value.LeaseDuration, leaseId, sent, cancellationToken)
                .ConfigureAwait(false);
        }
        catch (PostgresException ex) when (ex.SqlState == PostgresErrorCodes.LockNotAvailable)
        {
            // Rolled back after 100 ms of waiting for a lock: insert the ordinary way, which may wait, without the slot.
            producer.Unreserve();
            return await InsertPendingAsync(connection, null, values, json, now, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            producer.Unreserve();

            // Nothing to give back when nothing was sent, or when the server rejected the statement (an ERROR rolls it
            // back); a connection-level failure (broken, FATAL, cancelled) leaves the commit's outcome unknown.
            if (sent.Value && ex is not PostgresException { InvariantSeverity: "ERROR" })
            {
                var reason = ex.GetType().Name;
                _ = Task.Run(() => UnstartAsync(values, now, leaseUntil, leaseId, reason), CancellationToken.None);
            }

            throw;
        }

        if (id is not { } jobId)
        {
            producer.Unreserve();
            return null;
        }

        metrics.Enqueued(values.Queue, values.Kind, 1);
        if (!started)
        {
            producer.Unreserve();
            return jobId;
        }

        var job = new FetchedJob(jobId, values.Queue, values.Kind, values.TenantId, json, 1, values.MaxAttempts, values.TimeoutMs, values.RunAt, now, leaseId);
        if (!producer.TryStartReserved(job))
        {
            try
            {
                await store.JobReleaseManyAsync([new LeaseToken(jobId, leaseId)], clock.GetUtcNow(), CancellationToken.None).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is NpgsqlException or TimeoutException or InvalidOperationException or ObjectDisposedException)
            {
                JobsLog.LocalDispatchReleaseFailed(_logger, ex, jobId.ToString(System.Globalization.CultureInfo.InvariantCulture), values.Queue, "the worker is stopping");
            }
        }

        return jobId;
    }

    /// <summary>The ordinary insert (JobInsert.sql: pending, NOTIFY when due), on the given connection or a pooled one.</summary>
    private async Task<long?> InsertPendingAsync(
        NpgsqlConnection? connection, NpgsqlTransaction? transaction, JobInsertValues values, string json, DateTimeOffset now,
        CancellationToken cancellationToken)
    {
        long? id;
        try
        {
            id = await store.JobInsertAsync(connection, transaction, values, json, now, cancellationToken).ConfigureAwait(false);
        }
        catch (PostgresException ex) when (connection is not null && IsMissingSchema(ex))
        {
            throw NoJobsTables(connection, ex);
        }

        if (id is not null)
        {
            metrics.Enqueued(values.Queue, values.Kind, 1);
        }

        return id;
    }

    /// <summary>
    /// Gives back the row a failed started insert may have committed, trying again (0.1 s, then doubling) until its lease
    /// would expire: a commit cut off from its client (a broken connection, a timeout while the commit waited for a
    /// standby) may become visible only later. After the lease, the rescuer has it.
    /// </summary>
    internal async Task UnstartAsync(JobInsertValues values, DateTimeOffset now, DateTimeOffset leaseUntil, long leaseId, string reason)
    {
        var delay = TimeSpan.FromMilliseconds(100);
        Exception? last = null;
        while (true)
        {
            try
            {
                if (await store.JobUnstartAsync(values, now, leaseId, CancellationToken.None).ConfigureAwait(false) > 0)
                {
                    return;
                }

                last = null;
            }
            catch (ObjectDisposedException ex)
            {
                // The host is gone (its data source disposed): nothing can be given back any more; the rescuer will.
                last = ex;
                break;
            }
            catch (Exception ex) when (ex is NpgsqlException or TimeoutException or InvalidOperationException)
            {
                last = ex;
            }

            if (clock.GetUtcNow() + delay >= leaseUntil)
            {
                break;
            }

            await Task.Delay(delay, time).ConfigureAwait(false);
            delay = TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, TimeSpan.FromSeconds(5).Ticks));
        }

        if (last is not null)
        {
            JobsLog.LocalDispatchReleaseFailed(_logger, last, $"({values.Kind} created at {now:O})", values.Queue, "its insert failed: " + reason);
        }
    }

    private async Task<int> InsertManyAsync<TPayload>(
        NpgsqlConnection? connection, NpgsqlTransaction? transaction, IReadOnlyCollection<TPayload> payloads, JobOptions? jobOptions,
        CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(payloads);
        if (payloads.Count > JobsDefaults.MaxBatch)
        {
            throw new ArgumentException($"A batch holds at most {JobsDefaults.MaxBatch:N0} jobs; this one has {payloads.Count:N0}.", nameof(payloads));
        }

        var now = clock.GetUtcNow();
        var values = JobValues.Build(JobKind<TPayload>.Name, jobOptions, options.Value, tenants.Tenant, now);
        if (payloads.Count == 0)
        {
            return 0;
        }

        var json = new string[payloads.Count];
        var i = 0;
        foreach (var payload in payloads)
        {
            // Named by its index: Serialize's ArgumentNullException named a parameter "payload" this method does not have.
            json[i] = payload is null
                ? throw new ArgumentException($"payloads[{i}] is null: a job payload cannot be null.", nameof(payloads))
                : Serialize(payload);
            i++;
        }

        int inserted;
        try
        {
            inserted = await store.JobInsertManyAsync(connection, transaction, values, json, now, cancellationToken).ConfigureAwait(false);
        }
        catch (PostgresException ex) when (connection is not null && IsMissingSchema(ex))
        {
            throw NoJobsTables(connection, ex);
        }

        metrics.Enqueued(values.Queue, values.Kind, inserted);
        return inserted;
    }

    private string Serialize<TPayload>(TPayload payload)
    {
        if (payload is null)
        {
            throw new ArgumentNullException(nameof(payload), "A job payload cannot be null.");
        }

        try
        {
            return JsonSerializer.Serialize(payload, options.Value.SerializerOptions);
        }
        catch (Exception ex) when (ex is NotSupportedException or InvalidOperationException or JsonException)
        {
            throw new ArgumentException($"The payload of type {typeof(TPayload)} cannot be serialized to JSON: {ex.Message}", nameof(payload), ex);
        }
    }

    /// <summary>
    /// The caller's connection is to a database without the jobs tables: another database than the one this package
    /// migrates, such as the shard a tenant is placed on (ScaleOps.Rls), whose transaction cannot hold the job.
    /// </summary>
    private static InvalidOperationException NoJobsTables(NpgsqlConnection connection, PostgresException ex) =>
        new($"The connection passed to EnqueueAsync is to database '{connection.Database}' on {connection.Host}:{connection.Port}, "
            + "which has no jobs tables (" + ex.MessageText + "). Enqueue in a transaction on the database the Jobs package "
            + "migrates (ScaleOps:ConnectionString); a tenant placed on a shard cannot enqueue inside its shard transaction "
            + "(enqueue after that transaction commits, without its atomicity).", ex);

    private static bool IsMissingSchema(PostgresException ex) =>
        ex.SqlState is PostgresErrorCodes.UndefinedTable or PostgresErrorCodes.InvalidSchemaName;

    private static void CheckConnection(NpgsqlConnection connection, NpgsqlTransaction? transaction)
    {
        ArgumentNullException.ThrowIfNull(connection);
        if (connection.State != System.Data.ConnectionState.Open)
        {
            throw new ArgumentException("The connection must be open.", nameof(connection));
        }

        if (transaction is not null && !ReferenceEquals(transaction.Connection, connection))
        {
            throw new ArgumentException("The transaction must belong to the connection (or be completed already).", nameof(transaction));
        }
    }
}
