namespace ScaleOps.Resilience.Quotas;

/// <summary>How a quota's usage is counted.</summary>
public enum QuotaPeriod
{
    /// <summary>A standing count (documents, storage bytes): reserved on create, released on delete.</summary>
    None,

    /// <summary>Per UTC calendar day (jobs per day); usage starts from zero each day.</summary>
    Day,

    /// <summary>Per UTC calendar month (exports per month); usage starts from zero each month.</summary>
    Month,
}
