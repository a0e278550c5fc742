namespace ScaleOps.Caching.Internal;

/// <summary>Log event ids of ScaleOps.Caching (block 5000-5999).</summary>
internal static class CachingEventIds
{
    public const int RedisUnavailable = 5001;
    public const int RedisRestored = 5002;
    public const int FactoryFailedServingStale = 5003;
    public const int FactoryTimedOutServingStale = 5004;
    public const int UnreadablePayload = 5005;
    public const int InvalidBackplaneMessage = 5006;
    public const int InvalidationsReplayed = 5007;
    public const int BackgroundRefreshFailed = 5008;
    public const int SweepFailed = 5009;
    public const int RedisErrorReply = 5010;
    public const int EvictionPolicyMayDropTagIndexes = 5011;
    public const int BehindSenderRepeated = 5012;
    public const int BehindSenderRepeatFailed = 5013;
    public const int EagerRefreshFailed = 5014;
    public const int ClockOffRedis = 5015;
}
