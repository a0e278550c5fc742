using System;
using System.Collections.Generic;
using System.Runtime.CompilerServices;
using System.Threading;
using System.Threading.Tasks;
using Microsoft.Extensions.Options;
using Npgsql;
using NpgsqlTypes;

namespace ScaleOps.Jobs.Internal;

/// <summary>
/// The one class that talks SQL to the jobs tables. Every statement lives in <c>Sql/Queries</c>; methods are
/// Entity+Verb and take "now" from the caller, so tests can move time.
/// </summary>
internal sealed partial class JobStore
{
    private readonly NpgsqlDataSource _dataSource;
    private readonly JobSql _sql;
    private readonly string _schema;

    /// <summary>Whether the data source's connections enlist in an ambient <see cref="System.Transactions.TransactionScope"/>.</summary>
    private readonly bool _enlist;

    public JobStore(NpgsqlDataSource dataSource, IOptions<ScaleOpsOptions> scaleOps)
    {
        _dataSource = dataSource;
        _enlist = new NpgsqlConnectionStringBuilder(dataSource.ConnectionString).Enlist;
        _schema = scaleOps.Value.Schema;
        _sql = new JobSql(_schema);
    }

    public string Schema => _schema;

    /// <summary>Rows one statement of a bulk retry or discard of dead jobs changes; tests lower it.</summary>
    internal int DeadBatchSize { get; set; } = JobsDefaults.DeadBatchSize;

    /// <summary>The schema's LISTEN/NOTIFY channel (unquoted).</summary>
    public string NotifyChannel => _sql.Channel;

    public NpgsqlDataSource DataSource => _dataSource;

    public async Task<long?> JobInsertAsync(
        NpgsqlConnection? connection, NpgsqlTransaction? transaction, JobInsertValues v, string payload, DateTimeOffset now,
        CancellationToken cancellationToken)
    {
        var own = connection is null;
        connection ??= await _dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            await using var command = new NpgsqlCommand(_sql.Insert, connection, transaction);
            AddInsertParameters(command.Parameters, v, now);
            command.Parameters.Add(new NpgsqlParameter("payload", NpgsqlDbType.Json) { Value = payload });
            command.Parameters.Add(Nullable("unique_key", NpgsqlDbType.Text, v.UniqueKey));
            if (own)
            {
                await command.PrepareAsync(cancellationToken).ConfigureAwait(false);
            }

            var id = await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false);
            return id is long value ? value : null;
        }
        finally
        {
            if (own)
            {
                await connection.DisposeAsync().ConfigureAwait(false);
            }
        }
    }

    /// <summary>
    /// Inserts one job for local dispatch (<c>JobInsertStarted.sql</c>): started and leased to this host when nothing due
    /// waits in its queue, pending otherwise (leased for <paramref name="lease"/> on the database's clock). Returns the id
    /// (null for a duplicate), whether it went in started, and its lease id.
    /// <paramref name="sent"/> is set once the insert is sent: a failure before that committed nothing.
    /// </summary>
    public async Task<(long? Id, bool Started, long LeaseId)> JobInsertStartedAsync(
        NpgsqlConnection connection, JobInsertValues v, string payload, DateTimeOffset now, TimeSpan lease, long leaseId,
        StrongBox<bool> sent, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand(_sql.InsertStarted, connection);
        AddInsertParameters(command.Parameters, v, now);
        command.Parameters.Add(new NpgsqlParameter("payload", NpgsqlDbType.Json) { Value = payload });
        command.Parameters.Add(Nullable("unique_key", NpgsqlDbType.Text, v.UniqueKey));
        command.Parameters.Add(new NpgsqlParameter<TimeSpan>("lease", lease));
        command.Parameters.Add(new NpgsqlParameter<long>("lease_id", leaseId));
        await command.PrepareAsync(cancellationToken).ConfigureAwait(false);
        sent.Value = true;
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        if (!await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            return (null, false, 0);
        }

        return (reader.GetInt64(0), reader.GetBoolean(1), reader.GetInt64(2));
    }

    /// <summary>
    /// Gives back the row a failed <see cref="JobInsertStartedAsync"/> may have committed (<c>JobUnstart.sql</c>): pending,
    /// attempt not counted. The row is named by its random lease id. Returns how many rows it gave back (0 or 1).
    /// </summary>
    public async Task<int> JobUnstartAsync(JobInsertValues v, DateTimeOffset now, long leaseId, CancellationToken cancellationToken)
    {
        var rows = await QueryAsync(_sql.Unstart, p =>
        {
            p.Add(new NpgsqlParameter<string>("queue", v.Queue));
            p.Add(new NpgsqlParameter<string>("kind", v.Kind));
            p.Add(new NpgsqlParameter<string>("tenant", v.TenantId));
            p.Add(new NpgsqlParameter<DateTimeOffset>("now", now));
            p.Add(new NpgsqlParameter<long>("lease_id", leaseId));
        }, r => r.GetInt64(0), cancellationToken).ConfigureAwait(false);
        return (int)rows[0];
    }

    public async Task<int> JobInsertManyAsync(
        NpgsqlConnection? connection, NpgsqlTransaction? transaction, JobInsertValues v, string[] payloads, DateTimeOffset now,
        CancellationToken cancellationToken)
    {
        var own = connection is null;
        connection ??= await _dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (v.UniqueKey is null)
            {
                return await JobCopyManyAsync(connection, own, transaction, v, payloads, now, cancellationToken).ConfigureAwait(false);
            }

            await using var command = new NpgsqlCommand(_sql.InsertMany, connection, transaction);
            AddInsertParameters(command.Parameters, v, now);
            command.Parameters.Add(new NpgsqlParameter("payloads", NpgsqlDbType.Array | NpgsqlDbType.Json) { Value = payloads });
            var keys = new string?[payloads.Length];
            Array.Fill(keys, v.UniqueKey);
            command.Parameters.Add(new NpgsqlParameter("unique_keys", NpgsqlDbType.Array | NpgsqlDbType.Text) { Value = keys });
            return (int)(long)(await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false))!;
        }
        finally
        {
            if (own)
            {
                await connection.DisposeAsync().ConfigureAwait(false);
            }
        }
    }

    /// <summary>
    /// A batch without unique keys goes in by binary COPY (no per-row executor work), then one NOTIFY, both in one
    /// transaction: the caller's when it passed one or its connection is in one already (begun in SQL, or enlisted in a
    /// <see cref="System.Transactions.TransactionScope"/>: Npgsql refuses a local BEGIN there), the ambient scope's on our
    /// own enlisted connection, a local one otherwise. Npgsql cannot cancel a COPY in place: a cancelled one closes the
    /// connection, so the server must not commit it by itself once it reaches the end of the rows it already has, as the
    /// COPY's implicit transaction on the caller's connection without a transaction did (every job inserted, the caller
    /// told it was cancelled, no NOTIFY sent).
    /// </summary>
    private async Task<int> JobCopyManyAsync(
        NpgsqlConnection connection, bool own, NpgsqlTransaction? callers, JobInsertValues v, string[] payloads, DateTimeOffset now,
        CancellationToken cancellationToken)
    {
        NpgsqlTransaction? transaction = null;
        if (own && !(_enlist && System.Transactions.Transaction.Current is not null))
        {
            transaction = await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
        }
        else if (!own && callers is null)
        {
            transaction = await TryBeginAsync(connection, cancellationToken).ConfigureAwait(false);
        }

        try
        {
            // A job to run now leaves run_at to its default, the database's clock (migration jobs/0007; see JobInsert.sql).
            var copy = $"COPY {_sql.Jobs} (queue, kind, tenant_id, payload, priority, {(v.RunNow ? "" : "run_at, ")}max_attempts, timeout_ms, "
                + "concurrency_key, concurrency_limit, created_at) FROM STDIN (FORMAT BINARY)";
            await using (var importer = await connection.BeginBinaryImportAsync(copy, cancellationToken).ConfigureAwait(false))
            {
                // Asynchronous writes, with the caller's token: a synchronous one that flushes a full buffer blocks in the
                // socket while the server does not read (a lock wait in a trigger, a stalled server) and ignored the
                // cancellation until the server read again or Npgsql's write timeout (the command timeout, 30 s) broke the
                // connection. The awaits mostly complete at once: 200,000 rows took no measurably longer.
                try
                {
                    foreach (var payload in payloads)
                    {
                        await importer.StartRowAsync(cancellationToken).ConfigureAwait(false);
                        await importer.WriteAsync(v.Queue, NpgsqlDbType.Text, cancellationToken).ConfigureAwait(false);
                        await importer.WriteAsync(v.Kind, NpgsqlDbType.Text, cancellationToken).ConfigureAwait(false);
                        await importer.WriteAsync(v.TenantId, NpgsqlDbType.Text, cancellationToken).ConfigureAwait(false);
                        await importer.WriteAsync(payload, NpgsqlDbType.Json, cancellationToken).ConfigureAwait(false);
                        await importer.WriteAsync(v.Priority, NpgsqlDbType.Smallint, cancellationToken).ConfigureAwait(false);
                        if (!v.RunNow)
                        {
                            await importer.WriteAsync(v.RunAt, NpgsqlDbType.TimestampTz, cancellationToken).ConfigureAwait(false);
                        }

                        await importer.WriteAsync(v.MaxAttempts, NpgsqlDbType.Integer, cancellationToken).ConfigureAwait(false);
                        await WriteNullableAsync(importer, v.TimeoutMs, NpgsqlDbType.Integer, cancellationToken).ConfigureAwait(false);
                        await WriteNullableAsync(importer, v.ConcurrencyKey, NpgsqlDbType.Text, cancellationToken).ConfigureAwait(false);
                        await WriteNullableAsync(importer, v.ConcurrencyLimit, NpgsqlDbType.Integer, cancellationToken).ConfigureAwait(false);
                        await importer.WriteAsync(now, NpgsqlDbType.TimestampTz, cancellationToken).ConfigureAwait(false);
                    }
                }
                catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
                {
                    // Cancelled between two writes: disposed now, the importer would send CopyFail and wait for the
                    // server's answer without a token, both stuck while the server does not read. Completing it with the
                    // cancelled token makes Npgsql break the connection at once instead (the transaction ends with it).
                    await AbortAsync(importer, cancellationToken).ConfigureAwait(false);
                    throw;
                }

                await importer.CompleteAsync(cancellationToken).ConfigureAwait(false);
            }

            await using (var notify = new NpgsqlCommand(_sql.Notify, connection, transaction))
            {
                notify.Parameters.Add(new NpgsqlParameter<string>("queue", v.Queue));
                notify.Parameters.Add(new NpgsqlParameter<DateTimeOffset>("run_at", v.RunAt));
                notify.Parameters.Add(new NpgsqlParameter<DateTimeOffset>("now", now));
                await notify.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
            }

            if (transaction is not null)
            {
                await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
            }

            return payloads.Length;
        }
        catch (Exception ex) when (cancellationToken.IsCancellationRequested
            && !(ex is OperationCanceledException cancelled && cancelled.CancellationToken == cancellationToken))
        {
            // What Npgsql throws for a COPY it cancelled by closing the connection depends on where the COPY was (an
            // ObjectDisposedException for the caller's transaction, an I/O error, a cancellation of its own write
            // timeout's linked token): the caller cancelled.
            throw new OperationCanceledException("The batch enqueue was cancelled; its transaction did not commit.", ex, cancellationToken);
        }
        finally
        {
            if (transaction is not null)
            {
                await transaction.DisposeAsync().ConfigureAwait(false);
            }
        }
    }

    /// <summary>A local transaction on the caller's connection, or null when the connection is in one already.</summary>
    private static async Task<NpgsqlTransaction?> TryBeginAsync(NpgsqlConnection connection, CancellationToken cancellationToken)
    {
        try
        {
            return await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (InvalidOperationException)
        {
            return null; // begun in SQL, through another NpgsqlTransaction object, or enlisted in a TransactionScope
        }
    }

    /// <summary>Ends a cancelled COPY by breaking its connection (<see cref="JobCopyManyAsync"/>); never commits it.</summary>
    private static async Task AbortAsync(NpgsqlBinaryImporter importer, CancellationToken cancelled)
    {
        try
        {
            await importer.CompleteAsync(cancelled).ConfigureAwait(false);
        }
        catch (Exception)
        {
            // Expected: the cancelled flush broke the connection (or it was broken already).
        }
    }

    private static Task WriteNullableAsync<T>(NpgsqlBinaryImporter importer, T? value, NpgsqlDbType type, CancellationToken cancellationToken) =>
        value is null ? importer.WriteNullAsync(cancellationToken) : importer.WriteAsync(value, type, cancellationToken);

    private static void AddInsertParameters(NpgsqlParameterCollection p, JobInsertValues v, DateTimeOffset now)
    {
        p.Add(new NpgsqlParameter<string>("queue", v.Queue));
        p.Add(new NpgsqlParameter<string>("kind", v.Kind));
        p.Add(new NpgsqlParameter<string>("tenant", v.TenantId));
        p.Add(new NpgsqlParameter<short>("priority", v.Priority));
        p.Add(new NpgsqlParameter<DateTimeOffset>("run_at", v.RunAt));
        p.Add(new NpgsqlParameter<bool>("run_now", v.RunNow));
        p.Add(new NpgsqlParameter<int>("max_attempts", v.MaxAttempts));
        p.Add(Nullable("timeout_ms", NpgsqlDbType.Integer, v.TimeoutMs));
        p.Add(Nullable("concurrency_key", NpgsqlDbType.Text, v.ConcurrencyKey));
        p.Add(Nullable("concurrency_limit", NpgsqlDbType.Integer, v.ConcurrencyLimit));
        p.Add(new NpgsqlParameter<DateTimeOffset>("now", now));
    }

    private static NpgsqlParameter Nullable(string name, NpgsqlDbType type, object? value) =>
        new(name, type) { Value = value ?? DBNull.Value };

    private async Task<int> ExecuteAsync(string sql, Action<NpgsqlParameterCollection> bind, CancellationToken cancellationToken)
    {
        await using var connection = await _dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using var command = new NpgsqlCommand(sql, connection);
        bind(command.Parameters);
        return await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    private async Task<List<T>> QueryAsync<T>(
        string sql, Action<NpgsqlParameterCollection> bind, Func<NpgsqlDataReader, T> read, CancellationToken cancellationToken)
    {
        await using var connection = await _dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using var command = new NpgsqlCommand(sql, connection);
        bind(command.Parameters);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        var rows = new List<T>();
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            rows.Add(read(reader));
        }

        return rows;
    }
}
