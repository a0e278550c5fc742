using System;
using System.Net;
using System.Text.Json;
using System.Threading;
using System.Threading.Tasks;
using Microsoft.AspNetCore.Http;
using ScaleOps.Partitioning.Audit;

namespace ScaleOps.SampleHost.Audit;

/// <summary>Writes the document events to the partitioned audit trail (batched, off the request's critical path).</summary>
public sealed class DocumentAudit(IAuditLog audit)
{
    public const string ActorHeader = "X-User-Id";

    /// <summary>Writes one event about a document, or (<paramref name="documentId"/> null) about the tenant's documents.</summary>
    public ValueTask<Guid> WriteAsync(HttpContext http, string action, Guid? documentId, object? changes, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(http);
        var actor = http.Request.Headers[ActorHeader].ToString();
        var userAgent = http.Request.Headers.UserAgent.ToString();
        return audit.WriteAsync(new AuditEntry
        {
            Action = action,
            EntityType = documentId is null ? "documents" : "document",
            EntityId = documentId?.ToString(),
            Actor = actor.Length is > 0 and <= 200 ? actor : null,
            IpAddress = http.Connection.RemoteIpAddress ?? IPAddress.Loopback,
            UserAgent = userAgent.Length is > 0 and <= 500 ? userAgent : null,
            Changes = changes is null ? null : JsonSerializer.SerializeToElement(changes),
        }, cancellationToken);
    }
}
