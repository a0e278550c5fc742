namespace ScaleOps.Jobs;

/// <summary>Where a job is in its life.</summary>
public enum JobState
{
    /// <summary>Waiting to run: due now, later (<see cref="JobInfo.RunAt"/>), or waiting for a retry.</summary>
    Pending,

    /// <summary>Running on a worker that holds its lease.</summary>
    Running,

    /// <summary>Finished successfully (kept for the succeeded-job retention).</summary>
    Succeeded,

    /// <summary>Failed its last attempt, or can never succeed (bad payload); see <see cref="JobInfo.LastError"/>.</summary>
    Dead,

    /// <summary>Cancelled before it started.</summary>
    Cancelled,
}
