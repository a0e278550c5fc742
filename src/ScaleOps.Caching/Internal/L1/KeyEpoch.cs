using System.Threading;

namespace ScaleOps.Caching.Internal.L1;

/// <summary>
/// What a read or a load saw of the invalidations that concern its key, so that it stores its value only if none came
/// since. <see cref="Of"/> is the cheap, coarse form (any invalidation of the tenant counts: the Redis hit path, where a
/// false alarm only skips a memory copy); <see cref="TenantBucket.Watch"/> gives the exact form (only the key's own
/// removals and the tenant-wide invalidations count: loads and writes, so that a busy tenant's other keys never void
/// them), which must be given back with <see cref="TenantBucket.Unwatch"/>.
/// </summary>
internal readonly struct KeyEpoch
{
    private readonly TenantBucket _bucket;
    private readonly KeyWatch? _watch;
    private readonly long _wide;
    private readonly long _removals;

    internal KeyEpoch(TenantBucket bucket, long all, KeyWatch? watch, long wide, long removals)
    {
        _bucket = bucket;
        All = all;
        _watch = watch;
        _wide = wide;
        _removals = removals;
    }

    /// <summary>The tenant's epoch when taken (every invalidation of the tenant moves it).</summary>
    public long All { get; }

    internal KeyWatch? Watch => _watch;

    /// <summary>Whether no invalidation that concerns the key came since this was taken.</summary>
    public bool IsCurrent => _watch is null
        ? _bucket.Epoch == All
        : _bucket.WideEpoch == _wide && Volatile.Read(ref _watch.Removals) == _removals;

    /// <summary>The coarse form: any invalidation of the tenant since now counts.</summary>
    /// <param name="bucket">The tenant's bucket.</param>
    /// <returns>The epoch.</returns>
    public static KeyEpoch Of(TenantBucket bucket) => new(bucket, bucket.Epoch, null, 0, 0);
}

/// <summary>The removals of one key while loads or writes of it are in flight in this process (see <see cref="KeyEpoch"/>).</summary>
internal sealed class KeyWatch
{
    public long Removals;
    public int Holders;
    public bool Retired;
}
