using System;

namespace ScaleOps.Jobs;

/// <summary>Job counts of one queue.</summary>
public sealed class QueueStats
{
    /// <summary>The queue.</summary>
    public required string Queue { get; init; }

    /// <summary>Pending jobs that are due now.</summary>
    public required long Available { get; init; }

    /// <summary>Pending jobs due later (delayed, or waiting for a retry).</summary>
    public required long Scheduled { get; init; }

    /// <summary>Running jobs.</summary>
    public required long Running { get; init; }

    /// <summary>Succeeded jobs still kept by the retention.</summary>
    public required long Succeeded { get; init; }

    /// <summary>Dead jobs.</summary>
    public required long Dead { get; init; }

    /// <summary>Cancelled jobs still kept by the retention.</summary>
    public required long Cancelled { get; init; }

    /// <summary>
    /// How long the oldest due job has been waiting, or zero: since it was due, or since its enqueue when it was due
    /// before (a <see cref="JobOptions.RunAt"/> in the past).
    /// </summary>
    public required TimeSpan OldestWait { get; init; }
}
