using System.Net;
using System.Text.Json;

namespace ScaleOps.Partitioning.Audit;

/// <summary>
/// One audit event to write. The tenant is taken from the ambient <see cref="ScaleOps.Tenancy.ITenantContext"/> and the time
/// from the host's <see cref="System.TimeProvider"/> when it is queued.
/// </summary>
public sealed class AuditEntry
{
    /// <summary>What happened, for example <c>document.updated</c>.</summary>
    public required string Action { get; init; }

    /// <summary>The kind of entity acted on, for example <c>document</c>.</summary>
    public required string EntityType { get; init; }

    /// <summary>The entity's id, if any.</summary>
    public string? EntityId { get; init; }

    /// <summary>Who did it; defaults to the ambient scope's user id.</summary>
    public string? Actor { get; init; }

    /// <summary>The client's IP address, if known.</summary>
    public IPAddress? IpAddress { get; init; }

    /// <summary>The client's user agent, if known.</summary>
    public string? UserAgent { get; init; }

    /// <summary>What changed (stored as JSONB), for example <c>{"title": ["old", "new"]}</c>.</summary>
    public JsonElement? Changes { get; init; }

    /// <summary>Anything else (stored as JSONB): request id, reason...</summary>
    public JsonElement? Metadata { get; init; }
}
