namespace ScaleOps.Resilience.Internal;

/// <summary>Log event ids of ScaleOps.Resilience (block 6000-6999).</summary>
internal static class ResilienceEventIds
{
    public const int BreakerOpened = 6001;
    public const int BreakerClosed = 6002;
    public const int Retrying = 6003;
    public const int RedisLimiterFailed = 6101;
    public const int LeasedTokensLost = 6102;
    public const int LeasedTokensGiveBackUnfinished = 6103;
    public const int QuotaExceeded = 6201;
}
