using System;

namespace ScaleOps.Caching.Internal;

/// <summary>Valid ranges of <see cref="CachingOptions"/>, shared by the validator and the docs.</summary>
internal static class CachingDefaults
{
    public const string Prefix = "ScaleOps:Caching:";
    public const int MaxKeyPrefixLength = 100;

    public static readonly (TimeSpan Min, TimeSpan Max) DefaultExpiration = (TimeSpan.FromSeconds(1), TimeSpan.FromDays(30));
    public static readonly (TimeSpan Min, TimeSpan Max) NegativeExpiration = (TimeSpan.Zero, TimeSpan.FromDays(1));
    public static readonly (TimeSpan Min, TimeSpan Max) FailSafeMaxDuration = (TimeSpan.Zero, TimeSpan.FromDays(7));
    public static readonly (TimeSpan Min, TimeSpan Max) FailSafeThrottle = (TimeSpan.FromSeconds(1), TimeSpan.FromHours(1));
    public static readonly (TimeSpan Min, TimeSpan Max) FactoryTimeout = (TimeSpan.FromMilliseconds(1), TimeSpan.FromHours(1));
    public static readonly (TimeSpan Min, TimeSpan Max) RedisTimeout = (TimeSpan.FromMilliseconds(10), TimeSpan.FromSeconds(30));
    public static readonly (TimeSpan Min, TimeSpan Max) BreakerDuration = (TimeSpan.FromMilliseconds(100), TimeSpan.FromMinutes(10));
    public static readonly (TimeSpan Min, TimeSpan Max) DistributedLockLease = (TimeSpan.FromMilliseconds(100), TimeSpan.FromMinutes(10));
    public static readonly (TimeSpan Min, TimeSpan Max) DistributedLockWait = (TimeSpan.FromMilliseconds(10), TimeSpan.FromMinutes(10));
    public static readonly (TimeSpan Min, TimeSpan Max) SweepInterval = (TimeSpan.FromSeconds(1), TimeSpan.FromHours(1));
    public static readonly (int Min, int Max) MaxKeyLength = (16, 65536);
    public static readonly (int Min, int Max) MaxPayloadBytes = (1024, 512 * 1024 * 1024);
    public static readonly (int Min, int Max) MaxMemoryEntries = (1, 100_000_000);
    public static readonly (double Min, double Max) JitterFraction = (0, 0.5);
}
