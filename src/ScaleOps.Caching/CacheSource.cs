namespace ScaleOps.Caching;

/// <summary>Where a cached value came from.</summary>
public enum CacheSource
{
    /// <summary>No value: the key was not in the cache.</summary>
    None = 0,

    /// <summary>An in-process (L1) hit.</summary>
    Memory = 1,

    /// <summary>A Redis (L2) hit.</summary>
    Redis = 2,

    /// <summary>A miss: the factory ran and produced the value.</summary>
    Factory = 3,

    /// <summary>Fail-safe: the factory failed or timed out and the last good value was served.</summary>
    Stale = 4,
}
