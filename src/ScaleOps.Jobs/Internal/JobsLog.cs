using System;
using Microsoft.Extensions.Logging;

namespace ScaleOps.Jobs.Internal;

/// <summary>Source-generated log messages of the job queue (event ids 3000-3999, see ScaleOpsEventIds).</summary>
internal static partial class JobsLog
{
    [LoggerMessage(EventId = JobsEventIds.WorkerStarted, Level = LogLevel.Information, Message = "Job worker started: queues {Queues}")]
    public static partial void WorkerStarted(ILogger logger, string queues);

    [LoggerMessage(EventId = JobsEventIds.WorkerStopped, Level = LogLevel.Information,
        Message = "Job worker stopped: {Released} unfinished jobs given back")]
    public static partial void WorkerStopped(ILogger logger, int released);

    [LoggerMessage(EventId = JobsEventIds.FetchFailed, Level = LogLevel.Warning, Message = "Fetching jobs of queue {Queue} failed; retrying in {Delay}")]
    public static partial void FetchFailed(ILogger logger, Exception exception, string queue, TimeSpan delay);

    [LoggerMessage(EventId = JobsEventIds.CompleteFailed, Level = LogLevel.Warning, Message = "Writing {Count} job completions failed; retrying in {Delay}")]
    public static partial void CompleteFailed(ILogger logger, Exception exception, int count, TimeSpan delay);

    [LoggerMessage(EventId = JobsEventIds.JobFailed, Level = LogLevel.Warning,
        Message = "Job {JobId} ({Kind}, queue {Queue}, tenant '{Tenant}') attempt {Attempt}/{MaxAttempts} failed: {Error}")]
    public static partial void JobFailed(ILogger logger, long jobId, string kind, string queue, string tenant, int attempt, int maxAttempts, string error);

    [LoggerMessage(EventId = JobsEventIds.JobDead, Level = LogLevel.Error,
        Message = "Job {JobId} ({Kind}, queue {Queue}, tenant '{Tenant}') is dead after attempt {Attempt}: {Error}")]
    public static partial void JobDead(ILogger logger, long jobId, string kind, string queue, string tenant, int attempt, string error);

    [LoggerMessage(EventId = JobsEventIds.ListenFailed, Level = LogLevel.Warning, Message = "Listening for job notifications failed; reconnecting in {Delay}")]
    public static partial void ListenFailed(ILogger logger, Exception exception, TimeSpan delay);

    [LoggerMessage(EventId = JobsEventIds.MaintenanceFailed, Level = LogLevel.Warning, Message = "Job maintenance step {Step} failed")]
    public static partial void MaintenanceFailed(ILogger logger, Exception exception, string step);

    [LoggerMessage(EventId = JobsEventIds.Rescued, Level = LogLevel.Warning, Message = "Rescued jobs with expired leases: {Requeued} re-queued, {Dead} dead")]
    public static partial void Rescued(ILogger logger, int requeued, int dead);

    [LoggerMessage(EventId = JobsEventIds.ScheduleFired, Level = LogLevel.Information, Message = "Recurring schedule {Schedule} fired job {JobId} for {Due:o}")]
    public static partial void ScheduleFired(ILogger logger, string schedule, long jobId, DateTimeOffset due);

    [LoggerMessage(EventId = JobsEventIds.ScheduleFailed, Level = LogLevel.Warning,
        Message = "Recurring schedule {Schedule} could not fire {Due:o}; retrying in {Delay}")]
    public static partial void ScheduleFailed(ILogger logger, Exception exception, string schedule, DateTimeOffset due, TimeSpan delay);

    [LoggerMessage(EventId = JobsEventIds.ScheduleReadFailed, Level = LogLevel.Warning,
        Message = "Starting recurring schedule {Schedule} (reading its last due time, writing this host's definition) failed; retrying in {Delay}")]
    public static partial void ScheduleReadFailed(ILogger logger, Exception exception, string schedule, TimeSpan delay);

    [LoggerMessage(EventId = JobsEventIds.ScheduleDefinitionConflict, Level = LogLevel.Warning,
        Message = "Recurring schedule '{Schedule}' is not fired by this host: its definition here, {Definition}, differs from the stored one, {Stored}, written by a host started at {DefinedAt:o} (the most recently started host's definition wins). This host fires it again once its definition is stored again (when a host with it starts), or takes it over when no host with the stored one is seen for RecurringTakeoverAfter")]
    public static partial void ScheduleDefinitionConflict(ILogger logger, string schedule, string definition, string stored, DateTimeOffset definedAt);

    [LoggerMessage(EventId = JobsEventIds.ScheduleDefinitionChanged, Level = LogLevel.Information,
        Message = "Recurring schedule '{Schedule}' now runs on this host's definition, {Definition}, instead of {Previous}: its timetable starts now (due times the old one missed do not run), and hosts with the old definition stop firing it")]
    public static partial void ScheduleDefinitionChanged(ILogger logger, string schedule, string definition, string previous);

    [LoggerMessage(EventId = JobsEventIds.ScheduleResumed, Level = LogLevel.Information,
        Message = "Recurring schedule '{Schedule}' is fired by this host again: its definition, {Definition}, is the stored one again")]
    public static partial void ScheduleResumed(ILogger logger, string schedule, string definition);

    [LoggerMessage(EventId = JobsEventIds.ScheduleTakenOver, Level = LogLevel.Warning,
        Message = "Recurring schedule '{Schedule}' is taken over by this host: no host with the stored definition, {Previous}, was seen for {TakeoverAfter} (RecurringTakeoverAfter; last seen at {SeenAt:o}). It now runs on this host's definition, {Definition}, from now on (due times missed meanwhile do not run), and hosts with the old definition that come back stop firing it")]
    public static partial void ScheduleTakenOver(
        ILogger logger, string schedule, string definition, string previous, TimeSpan takeoverAfter, DateTimeOffset seenAt);

    [LoggerMessage(EventId = JobsEventIds.ScheduleCheckFailed, Level = LogLevel.Warning,
        Message = "Checking recurring schedule {Schedule} (recording that this host is alive for it, or whether the hosts with its stored definition are) failed; retrying in {Delay}")]
    public static partial void ScheduleCheckFailed(ILogger logger, Exception exception, string schedule, TimeSpan delay);

    [LoggerMessage(EventId = JobsEventIds.JobAbandoned, Level = LogLevel.Error,
        Message = "Job {JobId} ({Kind}) ignored its cancellation for {Grace} after its timeout; abandoned (its task may still be running)")]
    public static partial void JobAbandoned(ILogger logger, long jobId, string kind, TimeSpan grace);

    [LoggerMessage(EventId = JobsEventIds.PumpStalled, Level = LogLevel.Warning,
        Message = "A handler of queue {Queue} held its thread for more than {Stall} before returning a task; the queue's other jobs start on another thread (do not block synchronously in a handler)")]
    public static partial void PumpStalled(ILogger logger, string queue, TimeSpan stall);

    [LoggerMessage(EventId = JobsEventIds.JobAbandonedAtStop, Level = LogLevel.Warning,
        Message = "Job {JobId} ({Kind}) ignored the stop's cancellation for {Grace}; abandoned and given back, attempt not counted (its task may still be running)")]
    public static partial void JobAbandonedAtStop(ILogger logger, long jobId, string kind, TimeSpan grace);

    [LoggerMessage(EventId = JobsEventIds.RetentionDeleted, Level = LogLevel.Information, Message = "Retention deleted {Count} {State} jobs")]
    public static partial void RetentionDeleted(ILogger logger, int count, string state);

    [LoggerMessage(EventId = JobsEventIds.CompletionsRejected, Level = LogLevel.Warning,
        Message = "Writing {Count} job completions was rejected; writing them one at a time")]
    public static partial void CompletionsRejected(ILogger logger, Exception exception, int count);

    [LoggerMessage(EventId = JobsEventIds.CompletionDropped, Level = LogLevel.Error,
        Message = "The outcome ({Outcome}) of job {JobId} attempt {Attempt} cannot be written and is dropped; the job runs again once its lease expires")]
    public static partial void CompletionDropped(ILogger logger, Exception exception, long jobId, int attempt, CompletionKind outcome);

    [LoggerMessage(EventId = JobsEventIds.CompletionRejected, Level = LogLevel.Warning,
        Message = "The outcome ({Outcome}) of job {JobId} ({Kind}) attempt {Attempt} changed nothing: its run had lost the lease (the job was rescued or given back meanwhile)")]
    public static partial void CompletionRejected(ILogger logger, long jobId, string kind, int attempt, CompletionKind outcome);

    [LoggerMessage(EventId = JobsEventIds.LeaseLost, Level = LogLevel.Warning,
        Message = "Job {JobId} ({Kind}) attempt {Attempt} lost its lease (rescued or given back: a heartbeat renewed nothing for it); its run here is cancelled")]
    public static partial void LeaseLost(ILogger logger, long jobId, string kind, int attempt);

    [LoggerMessage(EventId = JobsEventIds.CompletionsDropped, Level = LogLevel.Error,
        Message = "Writing {Count} job completions failed unexpectedly; they are dropped and their jobs run again once their leases expire")]
    public static partial void CompletionsDropped(ILogger logger, Exception exception, int count);

    [LoggerMessage(EventId = JobsEventIds.RetryDeadSkipped, Level = LogLevel.Warning,
        Message = "Retried {Retried} dead jobs of queue {Queue}; skipped {Skipped} whose unique key is live again (an equal job is pending or running, or a newer dead one was retried)")]
    public static partial void RetryDeadSkipped(ILogger logger, int retried, int skipped, string queue);

    [LoggerMessage(EventId = JobsEventIds.LocalDispatchReleaseFailed, Level = LogLevel.Warning,
        Message = "Could not give back job {Job} of queue {Queue}, inserted started for this host but not run here ({Reason}); the rescuer will requeue it when its lease expires")]
    public static partial void LocalDispatchReleaseFailed(ILogger logger, Exception exception, string job, string queue, string reason);
}
