namespace ScaleOps.Jobs;

/// <summary>
/// The priority of a job within its tenant's work in a queue: a tenant's critical jobs start before its high ones, and
/// so on. Across tenants the queue is fair first (round robin), so one tenant cannot starve another by raising priority.
/// </summary>
public enum JobPriority
{
    /// <summary>Runs before everything else of its tenant.</summary>
    Critical = 0,

    /// <summary>Runs before standard and low.</summary>
    High = 1,

    /// <summary>The default.</summary>
    Standard = 2,

    /// <summary>Runs when nothing else of its tenant is due.</summary>
    Low = 3,
}
