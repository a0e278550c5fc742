namespace ScaleOps.Jobs.Internal;

/// <summary>Stable log event ids of ScaleOps.Jobs: the block 3000-3999 of <see cref="ScaleOps.Diagnostics.ScaleOpsEventIds"/>.</summary>
internal static class JobsEventIds
{
    public const int WorkerStarted = 3001;

    public const int WorkerStopped = 3002;

    public const int FetchFailed = 3003;

    public const int CompleteFailed = 3004;

    public const int JobFailed = 3005;

    public const int JobDead = 3006;

    public const int ListenFailed = 3007;

    public const int MaintenanceFailed = 3008;

    public const int Rescued = 3009;

    public const int ScheduleFired = 3010;

    public const int ScheduleFailed = 3011;

    public const int JobAbandoned = 3012;

    public const int RetentionDeleted = 3013;

    public const int CompletionsRejected = 3014;

    public const int CompletionDropped = 3015;

    public const int CompletionsDropped = 3016;

    public const int ScheduleReadFailed = 3017;

    public const int RetryDeadSkipped = 3018;

    public const int LocalDispatchReleaseFailed = 3019;

    public const int JobAbandonedAtStop = 3020;

    public const int PumpStalled = 3021;

    public const int CompletionRejected = 3022;

    public const int LeaseLost = 3023;

    public const int ScheduleDefinitionConflict = 3024;

    public const int ScheduleDefinitionChanged = 3025;

    public const int ScheduleResumed = 3026;

    public const int ScheduleTakenOver = 3027;

    public const int ScheduleCheckFailed = 3028;
}
