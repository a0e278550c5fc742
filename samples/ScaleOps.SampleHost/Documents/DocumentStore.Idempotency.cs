using System;
using System.Security.Cryptography;
using System.Threading;
using System.Threading.Tasks;
using Npgsql;
using ScaleOps.Data;

namespace ScaleOps.SampleHost.Documents;

/// <summary>What <see cref="DocumentStore.CreateAsync"/> did.</summary>
public enum CreateOutcome
{
    /// <summary>A new document (its key, if any, stored with it).</summary>
    Created,

    /// <summary>The key was used before for the same title and body: the document that request created, as it is now.</summary>
    Replayed,

    /// <summary>The key was used before for another title or body: nothing done.</summary>
    KeyUsedForAnotherRequest,

    /// <summary>The key was used before for the same request, whose document has been deleted since: nothing done.</summary>
    DocumentDeleted,
}

/// <summary>The outcome, the document (when there is one) and its id (also when it was deleted).</summary>
public sealed record CreateResult(CreateOutcome Outcome, Document? Document, Guid DocumentId);

public sealed partial class DocumentStore
{
    /// <summary>
    /// How long a key answers its retries: 24 hours after the create (Stripe's window). After that the key is free again,
    /// its next request creates; expired keys are deleted every hour for every tenant (<see cref="IdempotencyKeyPurge"/>).
    /// Measured on PostgreSQL's clock alone: the claim writes <c>created_at</c> as the database's <c>clock_timestamp()</c>
    /// and compares it with the same reading, so a host whose clock is off (the one that created the key or the one a
    /// retry lands on) can neither free a key early nor keep it longer; the hosts' clocks are never compared.
    /// </summary>
    public static readonly TimeSpan KeyRetention = TimeSpan.FromHours(24);

    /// <summary>
    /// Claims the key for the document about to be inserted, in the create's transaction: null when this request may
    /// create (the key is new, or expired and taken over), otherwise what the earlier request with the key left.
    /// <c>ON CONFLICT ... DO UPDATE ... WHERE</c> (not <c>DO NOTHING</c>): PostgreSQL locks the existing row either way, so
    /// the read after it cannot miss it, and an expired key is taken over in the same statement. A key another
    /// transaction inserted and has not committed makes this statement wait for it: then it sees its row (and answers its
    /// document) or, after a rollback, inserts. So two racing requests create one document and reserve one unit of quota.
    /// </summary>
    private async Task<CreateResult?> ClaimKeyAsync(TenantTransaction tx, string key, byte[] requestHash, Guid documentId, CancellationToken cancellationToken)
    {
        await using (var claim = tx.CreateCommand(
            """
            INSERT INTO app.idempotency_keys AS k (tenant_id, key, request_hash, document_id, created_at)
            VALUES ($1, $2, $3, $4, clock_timestamp())
            ON CONFLICT (tenant_id, key) DO UPDATE
                SET request_hash = excluded.request_hash, document_id = excluded.document_id, created_at = excluded.created_at
                WHERE k.created_at <= excluded.created_at - $5
            RETURNING 1
            """))
        {
            claim.Parameters.Add(Tenant());
            claim.Parameters.Add(new NpgsqlParameter<string> { TypedValue = key });
            claim.Parameters.Add(new NpgsqlParameter<byte[]> { TypedValue = requestHash });
            claim.Parameters.Add(new NpgsqlParameter<Guid> { TypedValue = documentId });
            claim.Parameters.Add(new NpgsqlParameter<TimeSpan> { TypedValue = KeyRetention });
            if (await claim.ExecuteScalarAsync(cancellationToken) is not null)
            {
                return null;
            }
        }

        await using var earlier = tx.CreateCommand(
            """
            SELECT d.id, d.title, d.body, d.created_at, d.updated_at, d.indexed_at, k.request_hash, k.document_id
            FROM app.idempotency_keys k LEFT JOIN app.documents d ON d.tenant_id = k.tenant_id AND d.id = k.document_id
            WHERE k.tenant_id = $1 AND k.key = $2
            """);
        earlier.Parameters.Add(Tenant());
        earlier.Parameters.Add(new NpgsqlParameter<string> { TypedValue = key });
        await using var reader = await earlier.ExecuteReaderAsync(cancellationToken);
        if (!await reader.ReadAsync(cancellationToken))
        {
            // The claim locked the row, so nobody can have removed it since.
            throw new InvalidOperationException($"The idempotency key row of '{key}' vanished while locked.");
        }

        var earlierId = reader.GetGuid(7);
        if (!CryptographicOperations.FixedTimeEquals(reader.GetFieldValue<byte[]>(6), requestHash))
        {
            return new CreateResult(CreateOutcome.KeyUsedForAnotherRequest, null, earlierId);
        }

        return reader.IsDBNull(0)
            ? new CreateResult(CreateOutcome.DocumentDeleted, null, earlierId)
            : new CreateResult(CreateOutcome.Replayed, ReadDocument(reader), earlierId);
    }
}
