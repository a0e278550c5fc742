using System.Collections.Generic;
using System.ComponentModel.DataAnnotations;

namespace ScaleOps.SampleHost;

/// <summary>The sample's own settings, section <c>Sample</c>.</summary>
public sealed class SampleOptions
{
    /// <summary>The value the <c>X-Admin-Key</c> header must carry on admin and <c>/ops/*</c> endpoints (except health).</summary>
    [Required(ErrorMessage = "Sample:AdminKey is required: the admin and /ops endpoints are closed without it.")]
    [MinLength(16, ErrorMessage = "Sample:AdminKey must be at least 16 characters.")]
    public string AdminKey { get; set; } = "";

    /// <summary>
    /// Wrong <c>X-Admin-Key</c> values a client address may send per minute (admin, <c>/ops/*</c> and
    /// <c>/ops/health</c>); past that, 429 until the minute is over, even with the right key. Per instance.
    /// </summary>
    [Range(1, 1000, ErrorMessage = "Sample:AdminKeyFailuresPerMinute must be between 1 and 1000.")]
    public int AdminKeyFailuresPerMinute { get; set; } = 10;

    /// <summary>
    /// Unregistered (well-formed) <c>X-Tenant-Id</c> values a client address may send per minute; past that, 429 before
    /// any lookup until the minute is over, whatever tenant it names. Lookups still running count until they answer, so
    /// this is also the most an address can have in flight. Per instance.
    /// </summary>
    [Range(1, 100_000, ErrorMessage = "Sample:UnknownTenantsPerMinute must be between 1 and 100000.")]
    public int UnknownTenantsPerMinute { get; set; } = 60;

    /// <summary>How long an instance trusts its cached view of a tenant's registration and plan.</summary>
    // The rate limiter keeps a tenant's plan for 4 s more (SamplePlans), so 6 + 4 keeps a plan change within 10 s.
    [Range(0, 6, ErrorMessage = "Sample:TenantCacheSeconds must be between 0 and 6 (a plan change must reach every instance within 10 s, "
        + "and the rate limiter caches the plan for 4 s more).")]
    public int TenantCacheSeconds { get; set; } = 5;

    /// <summary>
    /// Whether the demo-only endpoints are mapped (<c>POST /ops/audit/backfill</c>: audit events with a past time, so
    /// the demo has an old partition to archive). Off by default; never on in production.
    /// </summary>
    public bool DemoEndpoints { get; set; }

    /// <summary>Whether this instance runs the job workers (false: it only enqueues; another instance works the queue).</summary>
    public bool RunJobs { get; set; } = true;

    /// <summary>Whether this instance runs partition maintenance (false: another instance keeps the partitions).</summary>
    public bool RunPartitionMaintenance { get; set; } = true;

    /// <summary>The plans and their limits.</summary>
    public Dictionary<string, PlanLimits> Plans { get; set; } = new()
    {
        ["free"] = new PlanLimits { RequestsPerSecond = 10, MaxDocuments = 100 },
        ["pro"] = new PlanLimits { RequestsPerSecond = 100, MaxDocuments = 10_000 },
        ["enterprise"] = new PlanLimits { RequestsPerSecond = 1_000, MaxDocuments = null },
    };
}

/// <summary>One plan's limits.</summary>
public sealed class PlanLimits
{
    /// <summary>Requests per second, shared by every instance.</summary>
    public int RequestsPerSecond { get; set; }

    /// <summary>The most documents a tenant may hold; null means no limit.</summary>
    public int? MaxDocuments { get; set; }
}
