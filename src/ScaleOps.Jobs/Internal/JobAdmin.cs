using System;
using System.Collections.Generic;
using System.Threading;
using System.Threading.Tasks;
using Microsoft.Extensions.Logging;
using ScaleOps.Data;

namespace ScaleOps.Jobs.Internal;

/// <summary>The admin API over <see cref="JobStore"/>.</summary>
internal sealed class JobAdmin(JobStore store, DatabaseClock clock, ILoggerFactory loggerFactory) : IJobAdmin
{
    private readonly ILogger _logger = loggerFactory.CreateLogger("ScaleOps.Jobs.Admin");

    public async Task<IReadOnlyList<JobInfo>> ListAsync(JobQuery? query = null, CancellationToken cancellationToken = default)
    {
        query ??= new JobQuery();
        if (query.Limit is < 1 or > 1000)
        {
            throw new ArgumentException($"JobQuery.Limit must be 1 to 1000; it is {query.Limit}.", nameof(query));
        }

        if (query.State is { } state && !Enum.IsDefined(state))
        {
            throw new ArgumentException($"JobQuery.State {(int)state} is not a JobState.", nameof(query));
        }

        if (query.Tenant is { IsDefault: true })
        {
            throw new ArgumentException("JobQuery.Tenant is default(TenantId), which is not a tenant.", nameof(query));
        }

        RequireStorable(query.Queue, "JobQuery.Queue", nameof(query));
        RequireStorable(query.Kind, "JobQuery.Kind", nameof(query));

        return await store.JobListAsync(query, cancellationToken).ConfigureAwait(false);
    }

    public Task<JobInfo?> GetAsync(long id, CancellationToken cancellationToken = default) => store.JobGetAsync(id, cancellationToken);

    public Task<bool> RetryDeadAsync(long id, CancellationToken cancellationToken = default) =>
        store.JobRetryDeadAsync(id, clock.GetUtcNow(), cancellationToken);

    public async Task<int> RetryAllDeadAsync(string? queue = null, CancellationToken cancellationToken = default)
    {
        RequireStorable(queue, "The queue", nameof(queue));
        var (retried, skipped) = await store.JobRetryAllDeadAsync(queue, clock.GetUtcNow(), cancellationToken).ConfigureAwait(false);
        if (skipped > 0)
        {
            JobsLog.RetryDeadSkipped(_logger, retried, skipped, queue ?? "(all)");
        }

        return retried;
    }

    public Task<bool> DiscardDeadAsync(long id, CancellationToken cancellationToken = default) =>
        store.JobDiscardDeadAsync(id, cancellationToken);

    public Task<int> DiscardAllDeadAsync(string? queue = null, CancellationToken cancellationToken = default)
    {
        RequireStorable(queue, "The queue", nameof(queue));
        return store.JobDiscardAllDeadAsync(queue, cancellationToken);
    }

    public async Task<bool> CancelAsync(long id, CancellationToken cancellationToken = default) =>
        await store.JobCancelAsync(id, cancellationToken).ConfigureAwait(false) > 0;

    public async Task<IReadOnlyList<QueueStats>> GetQueueStatsAsync(CancellationToken cancellationToken = default) =>
        await store.QueueStatsAsync(clock.GetUtcNow(), cancellationToken).ConfigureAwait(false);

    /// <summary>
    /// Rejects a filter PostgreSQL cannot take (a NUL, a lone surrogate) as the enqueue does, before it reaches the
    /// database as a PostgresException (22021) or an encoding error.
    /// </summary>
    private static void RequireStorable(string? value, string what, string parameterName)
    {
        if (value is not null && !JobText.IsStorable(value))
        {
            throw new ArgumentException(JobValues.NotStorable(what), parameterName);
        }
    }
}
