namespace ScaleOps.Jobs;

/// <summary>Filters for <see cref="IJobAdmin.ListAsync"/>. Unset filters match everything.</summary>
public sealed class JobQuery
{
    /// <summary>Only jobs in this state.</summary>
    public JobState? State { get; init; }

    /// <summary>Only jobs of this queue.</summary>
    public string? Queue { get; init; }

    /// <summary>Only jobs of this tenant.</summary>
    public Tenancy.TenantId? Tenant { get; init; }

    /// <summary>Only jobs of this kind.</summary>
    public string? Kind { get; init; }

    /// <summary>Only jobs with an id below this one (the next page starts below the last id of the previous page).</summary>
    public long? Before { get; init; }

    /// <summary>The page size.</summary>
    /// <value>Default 50. 1 to 1,000.</value>
    public int Limit { get; init; } = 50;
}
