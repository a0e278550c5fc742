using System;
using System.Collections.Generic;

namespace ScaleOps.Resilience;

/// <summary>A tenant's plan (from the <see cref="RateLimiting.ITenantPlanResolver"/>) is not configured.</summary>
public sealed class UnknownPlanException : InvalidOperationException
{
    /// <summary>Creates the exception.</summary>
    public UnknownPlanException()
    {
        Plan = string.Empty;
        KnownPlans = [];
    }

    /// <summary>Creates the exception.</summary>
    /// <param name="message">The message.</param>
    public UnknownPlanException(string message)
        : base(message)
    {
        Plan = string.Empty;
        KnownPlans = [];
    }

    /// <summary>Creates the exception.</summary>
    /// <param name="message">The message.</param>
    /// <param name="innerException">The cause.</param>
    public UnknownPlanException(string message, Exception innerException)
        : base(message, innerException)
    {
        Plan = string.Empty;
        KnownPlans = [];
    }

    /// <summary>Creates the exception for <paramref name="plan"/>.</summary>
    /// <param name="plan">The unknown plan name.</param>
    /// <param name="knownPlans">The configured plans.</param>
    /// <param name="setting">The setting that lists the plans, for the message.</param>
    public UnknownPlanException(string plan, IReadOnlyList<string> knownPlans, string setting)
        : base($"The plan '{plan}' is not configured in {setting}; known plans: {(knownPlans.Count == 0 ? "(none)" : string.Join(", ", knownPlans))}.")
    {
        Plan = plan;
        KnownPlans = knownPlans;
    }

    /// <summary>The unknown plan name.</summary>
    public string Plan { get; }

    /// <summary>The configured plans.</summary>
    public IReadOnlyList<string> KnownPlans { get; }
}
