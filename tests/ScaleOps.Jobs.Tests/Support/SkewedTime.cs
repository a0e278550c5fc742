using System;

namespace ScaleOps.Jobs.Tests.Support;

/// <summary>
/// A host clock that runs in real time, <paramref name="offset"/> from the true time (a VM without NTP): timers and
/// elapsed time are the system's, only <see cref="GetUtcNow"/> is off. For tests of hosts whose clocks disagree.
/// </summary>
internal sealed class SkewedTime(TimeSpan offset) : TimeProvider
{
    public override DateTimeOffset GetUtcNow() => System.GetUtcNow() + offset;
}
