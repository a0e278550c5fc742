using System;
using System.Collections.Generic;
using System.Threading.RateLimiting;
using ScaleOps.Resilience.RateLimiting;

namespace ScaleOps.Resilience.Internal.RateLimiting;

/// <summary>A lease of the tenant limiter, carrying the metadata for <c>Retry-After</c> and the <c>RateLimit-*</c> headers.</summary>
internal sealed class TenantLease : RateLimitLease
{
    /// <summary>Rejected without a decision: the answer needs I/O, so call <c>AcquireAsync</c>.</summary>
    public static readonly TenantLease Undecided = new(false, null, default, hasDecision: false);

    /// <summary>Admitted without a decision (fail-open while Redis is down).</summary>
    public static readonly TenantLease OpenWithoutDecision = new(true, null, default, hasDecision: false);

    private static readonly string[] AllNames =
    [
        RateLimitMetadata.Limit.Name, RateLimitMetadata.Remaining.Name, RateLimitMetadata.Reset.Name,
        RateLimitMetadata.Policy.Name, RateLimitMetadata.Plan.Name,
    ];

    private static readonly string[] RejectedNames = [.. AllNames, MetadataName.RetryAfter.Name];

    private readonly CompiledPlan? _plan;
    private readonly Decision _decision;
    private readonly bool _hasDecision;

    public TenantLease(bool acquired, CompiledPlan? plan, Decision decision, bool hasDecision = true)
    {
        IsAcquired = acquired;
        _plan = plan;
        _decision = decision;
        _hasDecision = hasDecision && plan is not null;
    }

    /// <summary>A rejection decided without Redis (fail-closed): only <c>Retry-After</c>.</summary>
    public static TenantLease Closed(TimeSpan retryAfter) => new(false, null, new Decision(0, 0, 0, TimeSpan.Zero, retryAfter), hasDecision: false);

    public override bool IsAcquired { get; }

    public override IEnumerable<string> MetadataNames =>
        !_hasDecision ? (!IsAcquired && _decision.RetryAfter > TimeSpan.Zero ? [MetadataName.RetryAfter.Name] : [])
        : IsAcquired || _decision.RetryAfter <= TimeSpan.Zero ? AllNames : RejectedNames;

    public override bool TryGetMetadata(string metadataName, out object? metadata)
    {
        metadata = null;
        if (metadataName == MetadataName.RetryAfter.Name && !IsAcquired && _decision.RetryAfter > TimeSpan.Zero)
        {
            metadata = _decision.RetryAfter;
        }
        else if (_hasDecision)
        {
            metadata = metadataName switch
            {
                _ when metadataName == RateLimitMetadata.Limit.Name => _decision.Limit,
                _ when metadataName == RateLimitMetadata.Remaining.Name => Math.Max(0, _decision.Remaining),
                _ when metadataName == RateLimitMetadata.Reset.Name => _decision.Reset,
                _ when metadataName == RateLimitMetadata.Policy.Name => _plan!.Policy,
                _ when metadataName == RateLimitMetadata.Plan.Name => _plan!.Name,
                _ => null,
            };
        }

        return metadata is not null;
    }

    protected override void Dispose(bool disposing)
    {
        // Permits of a rate limiter are spent, never returned.
    }
}
