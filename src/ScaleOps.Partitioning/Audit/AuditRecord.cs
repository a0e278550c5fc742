using System;
using System.Net;
using System.Text.Json;

namespace ScaleOps.Partitioning.Audit;

/// <summary>One stored audit event.</summary>
/// <param name="Id">The event id: a version 7 UUID whose timestamp is <paramref name="OccurredAt"/>.</param>
/// <param name="OccurredAt">When it was queued (UTC, from the host's TimeProvider).</param>
/// <param name="Tenant">The tenant.</param>
/// <param name="Action">What happened.</param>
/// <param name="EntityType">The kind of entity.</param>
/// <param name="EntityId">The entity's id.</param>
/// <param name="Actor">Who did it.</param>
/// <param name="IpAddress">The client's IP address.</param>
/// <param name="UserAgent">The client's user agent.</param>
/// <param name="Changes">What changed.</param>
/// <param name="Metadata">Anything else.</param>
public sealed record AuditRecord(
    Guid Id,
    DateTimeOffset OccurredAt,
    string Tenant,
    string Action,
    string EntityType,
    string? EntityId,
    string? Actor,
    IPAddress? IpAddress,
    string? UserAgent,
    JsonElement? Changes,
    JsonElement? Metadata);
