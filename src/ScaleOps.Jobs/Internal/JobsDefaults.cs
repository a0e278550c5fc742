namespace ScaleOps.Jobs.Internal;

/// <summary>The defaults and limits of <see cref="JobsOptions"/>, shared by the options and their validator.</summary>
internal static class JobsDefaults
{
    public const string Section = "Jobs";
    public const string Prefix = "ScaleOps:Jobs:";
    public const string DefaultQueue = "default";
    public const int MaxNameLength = 100;
    public const int MaxKindLength = 200;
    public const int MaxKeyLength = 500;
    public const int MaxAttempts = 25;
    public const int MaxMaxAttempts = 1000;
    public const int Concurrency = 10;
    public const int MaxConcurrency = 10_000;
    public const int MaxBatch = 1_000_000;
    public const int CompletionBatchSize = 2000;

    /// <summary>
    /// How many tenants at their cap (or with only key-blocked jobs) one fetch passes over, beyond the tenants it serves,
    /// before it stops; the next fetch goes on from there.
    /// </summary>
    public const int FetchTenantsPassedOver = 100;
    public const int RetentionBatchSize = 1000;
    public const int MaxConcurrencyLimit = 10_000;
    public const string Channel = "scaleops_jobs";
}
