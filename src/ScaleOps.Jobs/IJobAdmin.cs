using System.Collections.Generic;
using System.Threading;
using System.Threading.Tasks;

namespace ScaleOps.Jobs;

/// <summary>
/// Operations on the queue for an ops page or a console: look at jobs, retry or discard dead ones, cancel pending ones,
/// and read queue statistics. It sees every tenant's jobs: expose it to operators only.
/// </summary>
public interface IJobAdmin
{
    /// <summary>Lists jobs, newest first.</summary>
    /// <param name="query">Filters and paging; null lists the newest 50 jobs.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>The jobs.</returns>
    /// <exception cref="System.ArgumentException">
    /// A filter is invalid: the limit or state out of range, <c>default(TenantId)</c>, or a queue or kind with a NUL
    /// character or a lone UTF-16 surrogate.
    /// </exception>
    Task<IReadOnlyList<JobInfo>> ListAsync(JobQuery? query = null, CancellationToken cancellationToken = default);

    /// <summary>Reads one job.</summary>
    /// <param name="id">The job id.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>The job, or null when no such job exists (any more).</returns>
    Task<JobInfo?> GetAsync(long id, CancellationToken cancellationToken = default);

    /// <summary>Makes a dead job pending again, due now, with a fresh set of attempts.</summary>
    /// <param name="id">The job id.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>Whether a dead job with that id was retried.</returns>
    /// <exception cref="System.InvalidOperationException">The job's unique key is live again: an equal job is pending or running.</exception>
    Task<bool> RetryDeadAsync(long id, CancellationToken cancellationToken = default);

    /// <summary>
    /// Retries every dead job, or those of one queue. A dead job whose unique key is live again (an equal job is pending
    /// or running) is skipped and stays dead, and of several dead jobs with one unique key only the newest is retried;
    /// the number skipped is logged as a warning (event 3018). It acts on the jobs dead when it starts, in batches of
    /// 1,000, each its own transaction; cancelling it stops between batches (or rolls back the batch in flight) and
    /// keeps the batches done.
    /// </summary>
    /// <param name="queue">The queue, or null for all.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>How many jobs were retried.</returns>
    /// <exception cref="System.ArgumentException"><paramref name="queue"/> contains a NUL character or a lone UTF-16 surrogate.</exception>
    Task<int> RetryAllDeadAsync(string? queue = null, CancellationToken cancellationToken = default);

    /// <summary>Deletes a dead job.</summary>
    /// <param name="id">The job id.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>Whether a dead job with that id was deleted.</returns>
    Task<bool> DiscardDeadAsync(long id, CancellationToken cancellationToken = default);

    /// <summary>
    /// Deletes every dead job, or those of one queue: the jobs dead when it starts, in batches of 1,000, each its own
    /// transaction; cancelling it stops between batches (or rolls back the batch in flight) and keeps the batches done.
    /// </summary>
    /// <param name="queue">The queue, or null for all.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>How many jobs were deleted.</returns>
    /// <exception cref="System.ArgumentException"><paramref name="queue"/> contains a NUL character or a lone UTF-16 surrogate.</exception>
    Task<int> DiscardAllDeadAsync(string? queue = null, CancellationToken cancellationToken = default);

    /// <summary>Cancels a job that has not started.</summary>
    /// <param name="id">The job id.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>Whether a pending job with that id was cancelled (false when it is running, finished or unknown).</returns>
    Task<bool> CancelAsync(long id, CancellationToken cancellationToken = default);

    /// <summary>Counts jobs per queue and state. Reads the whole jobs table: meant for an ops page, not a hot path.</summary>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>One entry per queue that has jobs, ordered by name.</returns>
    Task<IReadOnlyList<QueueStats>> GetQueueStatsAsync(CancellationToken cancellationToken = default);
}
