using System.Threading;
using System.Threading.Tasks;

namespace ScaleOps.Jobs;

/// <summary>
/// Runs jobs whose payload is <typeparamref name="TPayload"/>. Resolved from a fresh DI scope for every job, inside the
/// job's tenant scope. Return normally for success; throw to fail the attempt (it is retried with backoff until the
/// job's last attempt, then the job is dead with the exception as its last error).
/// </summary>
/// <typeparam name="TPayload">The payload type, serialized with System.Text.Json.</typeparam>
public interface IJobHandler<in TPayload>
{
    /// <summary>Runs one attempt of a job.</summary>
    /// <param name="payload">The payload.</param>
    /// <param name="context">The job's id, tenant, attempt...</param>
    /// <param name="cancellationToken">Fires when the job's timeout elapses or the worker is shutting down.</param>
    /// <returns>
    /// A task that completes when the job is done; never null (a null task fails the attempt with an error naming the
    /// handler type).
    /// </returns>
    Task HandleAsync(TPayload payload, JobContext context, CancellationToken cancellationToken);
}
