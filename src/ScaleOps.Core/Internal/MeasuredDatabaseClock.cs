using System;
using ScaleOps.Data;

namespace ScaleOps.Internal;

/// <summary>
/// Test seam: registered in the service collection, <see cref="DatabaseClock"/> measures its offset although the host's
/// <see cref="TimeProvider"/> is not <see cref="TimeProvider.System"/> (a test's clock running in real time, minutes
/// off). Without it, a clock other than the system's is a test's and is taken as the database's (offset 0, never
/// measured): a fake clock that a test moves by hours would otherwise be "corrected" back to the database's time at the
/// next measurement, and hosts sharing one fake clock would disagree by their measurements' error.
/// </summary>
internal sealed class MeasuredDatabaseClock;
