using System;

namespace ScaleOps.TestInfrastructure;

/// <summary>
/// A host clock that runs in real time, <see cref="Offset"/> from the true time (a VM without NTP): timers, timestamps
/// and elapsed time are the system's, only <see cref="GetUtcNow"/> is off. For tests of hosts whose clocks disagree.
/// </summary>
/// <param name="offset">How far the clock is ahead (negative: behind).</param>
public sealed class SkewedTime(TimeSpan offset) : TimeProvider
{
    /// <summary>How far the clock is ahead (negative: behind); a test may move it.</summary>
    public TimeSpan Offset { get; set; } = offset;

    /// <inheritdoc/>
    public override DateTimeOffset GetUtcNow() => System.GetUtcNow() + Offset;
}
