using System.Diagnostics;
using ScaleOps.Diagnostics;

namespace ScaleOps.Jobs.Internal;

/// <summary>
/// The span of one job run on the <c>ScaleOps</c> activity source (<c>ScaleOps.Jobs.Run</c>, a consumer span): the job's
/// id, queue, kind, attempt and tenant, and how the attempt ended. Nothing is allocated when no one listens.
/// </summary>
internal static class JobTracing
{
    public static Activity? Start(FetchedJob job)
    {
        var activity = ScaleOpsDiagnostics.ActivitySource.StartActivity("ScaleOps.Jobs.Run", ActivityKind.Consumer);
        if (activity is { IsAllDataRequested: true })
        {
            activity.SetTag("scaleops.jobs.id", job.Id);
            activity.SetTag("scaleops.jobs.queue", job.Queue);
            activity.SetTag("scaleops.jobs.kind", job.Kind);
            activity.SetTag("scaleops.jobs.attempt", job.Attempt);
            if (job.TenantId.Length > 0)
            {
                activity.SetTag("scaleops.tenant", job.TenantId);
            }
        }

        return activity;
    }

    /// <summary>
    /// Records the outcome: succeeded, retry, dead; without one, lease lost (the job was rescued or given back while the
    /// run went on, event 3023) or released (given back at stop).
    /// </summary>
    public static void Stop(Activity? activity, Completion? outcome, bool leaseLost)
    {
        if (activity is null)
        {
            return;
        }

        activity.SetTag("scaleops.jobs.outcome", outcome is { } o ? o.Kind.ToString() : leaseLost ? "LeaseLost" : "Released");
        if (outcome is { Kind: not CompletionKind.Succeeded } failed)
        {
            activity.SetStatus(ActivityStatusCode.Error, failed.Error);
        }
    }
}
