using System;

namespace ScaleOps.Resilience.RateLimiting;

/// <summary>
/// One limit of a plan: <see cref="PermitLimit"/> requests per <see cref="Window"/>, enforced as a token bucket that
/// holds at most <see cref="Burst"/> tokens and refills at <c>PermitLimit / Window</c>. A plan's rules are decided
/// together: a request is admitted only when every rule has a token, and then takes one from each.
/// </summary>
public sealed class RateLimitRule
{
    /// <summary>The number of requests admitted per <see cref="Window"/> (the refill rate).</summary>
    /// <value>Required; at least 1.</value>
    public int PermitLimit { get; set; }

    /// <summary>The window of <see cref="PermitLimit"/>, for example <c>00:00:01</c> or <c>1.00:00:00</c>.</summary>
    /// <value>Required; from 1 ms to 366 days.</value>
    public TimeSpan Window { get; set; }

    /// <summary>The bucket size: how many requests may arrive at once after an idle period.</summary>
    /// <value>Default <see langword="null"/>: the same as <see cref="PermitLimit"/>. At least 1 when set.</value>
    public int? Burst { get; set; }
}
