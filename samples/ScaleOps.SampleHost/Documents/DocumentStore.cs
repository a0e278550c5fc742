using System;
using System.Collections.Generic;
using System.Threading;
using System.Threading.Tasks;
using Npgsql;
using ScaleOps.Data;
using ScaleOps.Jobs;
using ScaleOps.Resilience.Quotas;
using ScaleOps.SampleHost.Limits;
using ScaleOps.Tenancy;

namespace ScaleOps.SampleHost.Documents;

/// <summary>
/// The one class of the sample that talks SQL about documents. Every statement runs through
/// <see cref="ITenantDataSource"/>, so PostgreSQL row-level security (ScaleOps.Rls) filters it to the ambient tenant;
/// the explicit <c>tenant_id = $1</c> is the app-level fence on top ("hybrid"), which also keeps plans tenant-specific.
/// </summary>
public sealed partial class DocumentStore(ITenantDataSource data, ITenantContext tenants, IQuotaService quotas, IJobClient jobs, TimeProvider time)
{
    private const string Columns = "id, title, body, created_at, updated_at, indexed_at";

    private static readonly JobOptions IndexJob = new() { Queue = "indexing", MaxAttempts = 10 };

    /// <summary>A bulk re-index waits behind the index jobs of fresh writes (same queue, lower priority).</summary>
    private static readonly JobOptions ReindexJob = new() { Queue = "indexing", MaxAttempts = 10, Priority = JobPriority.Low };

    /// <summary>
    /// Creates a document. With an <paramref name="idempotencyKey"/>, the key is claimed first in the same transaction
    /// (<see cref="ClaimKeyAsync"/>): a key the tenant used within <see cref="KeyRetention"/> creates nothing, reserves
    /// nothing and answers what that earlier request created; a concurrent request with the key waits for the first to
    /// commit (then answers its document) or roll back (then creates).
    /// </summary>
    public async Task<CreateResult> CreateAsync(DocumentInput input, string? idempotencyKey, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(input);
        var now = time.GetUtcNow();
        var id = Guid.CreateVersion7(now);

        // One transaction: the key, the row, the plan's document quota (QuotaExceededException rolls back all, the key
        // included, so a retry of a refused create is tried again) and the "index document" job, which exists only if
        // the document does.
        await using var tx = await data.BeginTransactionAsync(cancellationToken: cancellationToken);
        if (idempotencyKey is not null && await ClaimKeyAsync(tx, idempotencyKey, IdempotencyKey.RequestHash(input), id, cancellationToken) is { } earlier)
        {
            return earlier;
        }

        var document = await InsertAsync(tx, input, id, now, cancellationToken);
        await quotas.ReserveAsync(SamplePlans.Documents, 1, tx.Connection, tx.Transaction, cancellationToken);
        await jobs.EnqueueAsync(tx.Connection, tx.Transaction, new IndexDocument(document.Id), IndexJob, cancellationToken);
        await tx.CommitAsync(cancellationToken);
        return new CreateResult(CreateOutcome.Created, document, document.Id);
    }

    /// <summary>Inserts inside the caller's tenant transaction (so a quota, a job and an audit row can join it).</summary>
    public Task<Document> InsertAsync(TenantTransaction tx, DocumentInput input, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        return InsertAsync(tx, input, Guid.CreateVersion7(now), now, cancellationToken);
    }

    private async Task<Document> InsertAsync(TenantTransaction tx, DocumentInput input, Guid id, DateTimeOffset now, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(tx);
        await using var command = tx.CreateCommand(
            $"INSERT INTO app.documents (tenant_id, id, title, body, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $5) RETURNING {Columns}");
        command.Parameters.Add(Tenant());
        command.Parameters.Add(new NpgsqlParameter<Guid> { TypedValue = id });
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = input.Title! });
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = input.Body! });
        command.Parameters.Add(new NpgsqlParameter<DateTimeOffset> { TypedValue = now });
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        return (await ReadAsync(reader, cancellationToken))[0];
    }

    public async Task<Document?> GetAsync(Guid id, CancellationToken cancellationToken)
    {
        var found = await QueryAsync($"SELECT {Columns} FROM app.documents WHERE tenant_id = $1 AND id = $2",
            [tenants.RequireTenant().Value, id], cancellationToken);
        return found.Count == 0 ? null : found[0];
    }

    /// <summary>How many documents the tenant holds, and when they were counted.</summary>
    public async Task<DocumentStats> CountAsync(CancellationToken cancellationToken)
    {
        await using var connection = await data.OpenConnectionAsync(cancellationToken: cancellationToken);
        await using var batch = connection.CreateBatch("SELECT count(*) FROM app.documents WHERE tenant_id = $1", tenants.RequireTenant().Value);
        var count = (long)(await batch.ExecuteScalarAsync(cancellationToken))!;
        return new DocumentStats(count, time.GetUtcNow());
    }

    public async Task<DocumentPage> ListAsync(int limit, DateTimeOffset? afterCreatedAt, Guid? afterId, CancellationToken cancellationToken)
    {
        var rows = afterCreatedAt is null
            ? await QueryAsync($"SELECT {Columns} FROM app.documents WHERE tenant_id = $1 ORDER BY created_at DESC, id DESC LIMIT $2",
                [tenants.RequireTenant().Value, limit + 1], cancellationToken)
            : await QueryAsync(
                $"SELECT {Columns} FROM app.documents WHERE tenant_id = $1 AND (created_at, id) < ($3, $4) ORDER BY created_at DESC, id DESC LIMIT $2",
                [tenants.RequireTenant().Value, limit + 1, afterCreatedAt.Value, afterId!.Value], cancellationToken);
        if (rows.Count <= limit)
        {
            return new DocumentPage([.. rows], null);
        }

        var page = rows.GetRange(0, limit);
        return new DocumentPage([.. page], Cursor.Encode(page[^1].CreatedAt, page[^1].Id));
    }

    public async Task<Document?> UpdateAsync(Guid id, DocumentInput input, CancellationToken cancellationToken)
    {
        // The changed document is indexed again: the job joins the update's transaction.
        await using var tx = await data.BeginTransactionAsync(cancellationToken: cancellationToken);
        await using var command = tx.CreateCommand(
            $"UPDATE app.documents SET title = $3, body = $4, updated_at = $5, indexed_at = NULL WHERE tenant_id = $1 AND id = $2 RETURNING {Columns}");
        command.Parameters.Add(Tenant());
        command.Parameters.Add(new NpgsqlParameter<Guid> { TypedValue = id });
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = input.Title! });
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = input.Body! });
        command.Parameters.Add(new NpgsqlParameter<DateTimeOffset> { TypedValue = time.GetUtcNow() });
        List<Document> found;
        await using (var reader = await command.ExecuteReaderAsync(cancellationToken))
        {
            found = await ReadAsync(reader, cancellationToken);
        }

        if (found.Count == 0)
        {
            return null;
        }

        await jobs.EnqueueAsync(tx.Connection, tx.Transaction, new IndexDocument(id), IndexJob, cancellationToken);
        await tx.CommitAsync(cancellationToken);
        return found[0];
    }

    /// <summary>
    /// Marks every indexed document of the tenant as not indexed and enqueues one index job per document, all in one batch
    /// (one statement whatever the count) inside the same transaction: the marks and the jobs commit together.
    /// A document not indexed yet already waits for the index job its create, update or an earlier re-index enqueued
    /// (in the same transaction as the mark): it gets no second one. So a repeated call adds jobs only for the documents
    /// indexed since, not one more per document each time (one request of the rate limit would otherwise put up to a
    /// plan's whole document quota of jobs in the queue every tenant shares). A document whose job died stays unindexed
    /// until the job is retried (<c>POST /ops/jobs/{id}/retry</c>) or the document is updated.
    /// Returns the number of jobs enqueued.
    /// </summary>
    public async Task<int> ReindexAllAsync(CancellationToken cancellationToken)
    {
        await using var tx = await data.BeginTransactionAsync(cancellationToken: cancellationToken);
        await using var command = tx.CreateCommand(
            "UPDATE app.documents SET indexed_at = NULL WHERE tenant_id = $1 AND indexed_at IS NOT NULL RETURNING id");
        command.Parameters.Add(Tenant());
        var payloads = new List<IndexDocument>();
        await using (var reader = await command.ExecuteReaderAsync(cancellationToken))
        {
            while (await reader.ReadAsync(cancellationToken))
            {
                payloads.Add(new IndexDocument(reader.GetGuid(0)));
            }
        }

        var enqueued = payloads.Count == 0
            ? 0
            : await jobs.EnqueueManyAsync(tx.Connection, tx.Transaction, payloads, ReindexJob, cancellationToken);
        await tx.CommitAsync(cancellationToken);
        return enqueued;
    }

    /// <summary>Sets <c>indexed_at</c> (the index job's work); false when the document is gone.</summary>
    public async Task<bool> MarkIndexedAsync(Guid id, CancellationToken cancellationToken)
    {
        await using var connection = await data.OpenConnectionAsync(cancellationToken: cancellationToken);
        await using var batch = connection.CreateBatch(
            "UPDATE app.documents SET indexed_at = $3 WHERE tenant_id = $1 AND id = $2", tenants.RequireTenant().Value, id, time.GetUtcNow());
        return await batch.ExecuteNonQueryAsync(cancellationToken) == 1;
    }

    public async Task<bool> DeleteAsync(Guid id, CancellationToken cancellationToken)
    {
        // One transaction: the row and the quota it held.
        await using var tx = await data.BeginTransactionAsync(cancellationToken: cancellationToken);
        await using var command = tx.CreateCommand("DELETE FROM app.documents WHERE tenant_id = $1 AND id = $2");
        command.Parameters.Add(Tenant());
        command.Parameters.Add(new NpgsqlParameter<Guid> { TypedValue = id });
        if (await command.ExecuteNonQueryAsync(cancellationToken) != 1)
        {
            return false;
        }

        await quotas.ReleaseAsync(SamplePlans.Documents, 1, tx.Connection, tx.Transaction, cancellationToken);
        await tx.CommitAsync(cancellationToken);
        return true;
    }

    private NpgsqlParameter<string> Tenant() => new() { TypedValue = tenants.RequireTenant().Value };

    private async Task<List<Document>> QueryAsync(string sql, object[] parameters, CancellationToken cancellationToken)
    {
        await using var connection = await data.OpenConnectionAsync(cancellationToken: cancellationToken);
        await using var batch = connection.CreateBatch(sql, parameters);
        await using var reader = await batch.ExecuteReaderAsync(cancellationToken);
        return await ReadAsync(reader, cancellationToken);
    }

    private static async Task<List<Document>> ReadAsync(NpgsqlDataReader reader, CancellationToken cancellationToken)
    {
        var list = new List<Document>();
        while (await reader.ReadAsync(cancellationToken))
        {
            list.Add(ReadDocument(reader));
        }

        return list;
    }

    /// <summary>The document of the reader's row, in the order of <see cref="Columns"/>.</summary>
    private static Document ReadDocument(NpgsqlDataReader reader) => new(
        reader.GetGuid(0), reader.GetString(1), reader.GetString(2),
        reader.GetFieldValue<DateTimeOffset>(3), reader.GetFieldValue<DateTimeOffset>(4),
        reader.IsDBNull(5) ? null : reader.GetFieldValue<DateTimeOffset>(5));
}
