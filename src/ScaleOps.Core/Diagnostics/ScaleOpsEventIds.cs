namespace ScaleOps.Diagnostics;

/// <summary>
/// Stable log event ids. Each package owns a block of 1,000: Core 1000-1999, Rls 2000-2999, Jobs 3000-3999,
/// Partitioning 4000-4999, Caching 5000-5999, Resilience 6000-6999, AspNetCore 7000-7999.
/// </summary>
public static class ScaleOpsEventIds
{
    /// <summary>A schema migration was applied.</summary>
    public const int MigrationApplied = 1001;

    /// <summary>The database holds a migration newer than the running code knows.</summary>
    public const int SchemaNewerThanCode = 1002;

    /// <summary>A migration script gave up waiting for a table's lock (<c>ScaleOps:MigrationLockTimeout</c>); it is tried again.</summary>
    public const int MigrationLockTimeout = 1003;

    /// <summary>This host's clock is a second or more off the database's (logged when measured, again only once it has moved by a second).</summary>
    public const int ClockOffDatabase = 1004;
}
