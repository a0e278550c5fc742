using System;
using System.Collections.Generic;
using System.Text.Json;
using ScaleOps.Jobs.Internal;

namespace ScaleOps.Jobs;

/// <summary>Settings of the job queue, bound from the configuration section <c>ScaleOps:Jobs</c>.</summary>
public sealed class JobsOptions
{
    /// <summary>The queue of jobs enqueued without <see cref="JobOptions.Queue"/>.</summary>
    /// <value>Default <c>default</c>. 1 to 100 characters.</value>
    public string DefaultQueue { get; set; } = JobsDefaults.DefaultQueue;

    /// <summary>
    /// The queues this host works on, by name. The worker always works on <see cref="DefaultQueue"/> too (with the
    /// default <see cref="QueueOptions"/> unless it is listed here).
    /// </summary>
    /// <value>Default: empty.</value>
    public Dictionary<string, QueueOptions> Queues { get; } = new(StringComparer.Ordinal);

    /// <summary>Whether this host runs jobs. Turn it off on hosts that only enqueue; they still fire their recurring schedules.</summary>
    /// <value>Default <see langword="true"/>.</value>
    public bool RunWorker { get; set; } = true;

    /// <summary>The attempts a job gets unless <see cref="JobOptions.MaxAttempts"/> says otherwise.</summary>
    /// <value>Default 25. 1 to 1,000.</value>
    public int MaxAttempts { get; set; } = JobsDefaults.MaxAttempts;

    /// <summary>How long one attempt may run unless <see cref="JobOptions.Timeout"/> says otherwise.</summary>
    /// <value>Default 5 minutes. 1 ms to 24 h.</value>
    public TimeSpan DefaultTimeout { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>
    /// How long a handler that ignores its cancellation token may run past its timeout before the worker gives up on
    /// it: the attempt then fails as timed out and its slot is freed (the abandoned task is left to finish on its own).
    /// </summary>
    /// <value>Default 5 seconds. 0 to 1 h.</value>
    public TimeSpan TimeoutGrace { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// How often an idle queue looks for work that no notification announced (jobs that became due, retries); ±10% jitter.
    /// New jobs wake workers at once through LISTEN/NOTIFY.
    /// </summary>
    /// <value>Default 1 second. 10 ms to 1 h.</value>
    public TimeSpan PollInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>
    /// After this long without a notification the LISTEN connection is checked with a round trip (tests shorten it;
    /// not bound from configuration). See <c>JobNotifier</c>.
    /// </summary>
    internal TimeSpan ListenLivenessInterval { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>How long that round trip may take, in whole seconds (tests shorten it).</summary>
    internal int ListenLivenessTimeoutSeconds { get; set; } = 10;

    /// <summary>
    /// How long a started job is reserved for its worker without a heartbeat. Heartbeats renew it every third of this;
    /// when a worker dies, its jobs run again after the lease expires. Leases run on the database's clock: a host whose
    /// clock is behind or ahead of the others' neither loses its live jobs to their rescuers nor rescues theirs.
    /// </summary>
    /// <value>Default 30 seconds. 1 s to 1 h.</value>
    public TimeSpan LeaseDuration { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>How often the rescuer looks for expired leases.</summary>
    /// <value>Default 10 seconds. 100 ms to 1 h.</value>
    public TimeSpan RescueInterval { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>How long a stopping worker waits for running jobs before it cancels them and gives them back.</summary>
    /// <value>Default 30 seconds. 0 to 1 h.</value>
    public TimeSpan ShutdownTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>The first retry delay; attempt n waits about <c>RetryBaseDelay * 2^(n-1)</c>, ±25% jitter.</summary>
    /// <value>Default 1 second. 0 to 1 day.</value>
    public TimeSpan RetryBaseDelay { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>The longest retry delay, jitter included (at the cap, delays fall between 75% and 100% of it).</summary>
    /// <value>Default 1 hour. At least <see cref="RetryBaseDelay"/>, at most 30 days.</value>
    public TimeSpan RetryMaxDelay { get; set; } = TimeSpan.FromHours(1);

    /// <summary>How long succeeded and cancelled jobs are kept. Zero deletes a succeeded job when it completes.</summary>
    /// <value>Default 1 day. 0 to 365 days.</value>
    public TimeSpan SucceededRetention { get; set; } = TimeSpan.FromDays(1);

    /// <summary>How long dead jobs are kept for inspection and retry.</summary>
    /// <value>Default 14 days. 1 minute to 3,650 days.</value>
    public TimeSpan DeadRetention { get; set; } = TimeSpan.FromDays(14);

    /// <summary>How often retention deletes expired jobs (in batches of 1,000, as many batches as needed).</summary>
    /// <value>Default 1 minute. 1 s to 1 day.</value>
    public TimeSpan RetentionInterval { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>
    /// How long a recurring schedule's stored definition (the most recently started host's cron and time zone) may go
    /// unseen before a host with another definition of it takes it over. Hosts that fire a schedule under the stored
    /// definition record that they are alive for it every fifth of this (at least once a minute); a host whose
    /// definition differs (it does not fire the schedule) takes the schedule over, its timetable starting then, once the
    /// schedule's row has not changed for this long, so a rollback that stops only the new hosts leaves the schedule
    /// running on the old hosts' timetable. A host with the stored definition that cannot reach the database for longer
    /// loses the schedule and goes quiet when it is back.
    /// </summary>
    /// <value>Default 5 minutes (five of the scheduler's checks, which come at least once a minute). 5 s to 1 day.</value>
    public TimeSpan RecurringTakeoverAfter { get; set; } = JobsDefaults.RecurringTakeoverAfter;

    /// <summary>
    /// The JSON options of payloads. For a source-generated context, set its <c>Options</c> (they carry its
    /// <c>JsonSourceGenerationOptions</c>, a naming policy say), or its <c>Default</c> as the <c>TypeInfoResolver</c> of
    /// options of your own (then those options' settings apply, not the context's).
    /// </summary>
    /// <value>Default <see cref="JsonSerializerOptions.Web"/>. Code only.</value>
    public JsonSerializerOptions SerializerOptions { get; set; } = JsonSerializerOptions.Web;
}
