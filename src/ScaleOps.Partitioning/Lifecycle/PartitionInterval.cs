namespace ScaleOps.Partitioning.Lifecycle;

/// <summary>The width of one time partition. Partitions start at the UTC start of the period.</summary>
public enum PartitionInterval
{
    /// <summary>One calendar day (UTC); named <c>_pYYYY_MM_DD</c>.</summary>
    Day,

    /// <summary>One ISO week starting Monday (UTC); named <c>_pIYYYwIW</c>, for example <c>_p2026w48</c>.</summary>
    Week,

    /// <summary>One calendar month (UTC); named <c>_pYYYY_MM</c>.</summary>
    Month,

    /// <summary>One calendar quarter (UTC); named <c>_pYYYYqQ</c>, for example <c>_p2026q4</c>.</summary>
    Quarter,

    /// <summary>One calendar year (UTC); named <c>_pYYYY</c>.</summary>
    Year,
}
