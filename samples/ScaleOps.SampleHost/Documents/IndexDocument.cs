using System;
using System.Threading;
using System.Threading.Tasks;
using ScaleOps.Caching;
using ScaleOps.Jobs;

namespace ScaleOps.SampleHost.Documents;

/// <summary>The "index document" job, enqueued in the same transaction as the document (the outbox pattern).</summary>
[JobKind("document.index")]
public sealed record IndexDocument(Guid DocumentId);

/// <summary>
/// Runs in the job's tenant scope (ScaleOps.Jobs sets it), so the update goes through row-level security like a request.
/// A real service would send the document to a search index here; the sample records when it was indexed.
/// </summary>
public sealed class IndexDocumentHandler(DocumentStore store, ITenantCache cache) : IJobHandler<IndexDocument>
{
    public async Task HandleAsync(IndexDocument payload, JobContext context, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(payload);
        if (await store.MarkIndexedAsync(payload.DocumentId, cancellationToken))
        {
            await cache.RemoveByTagAsync(DocumentEndpoints.DocumentsTag, cancellationToken);
        }
    }
}
