using System;
using ScaleOps.Data;

namespace ScaleOps.Internal;

/// <summary>
/// Test seam: registered in the service collection, <see cref="DatabaseClock"/> is the host's <see cref="TimeProvider"/>
/// (offset 0, never measured), so hosts that share one fake clock and move it to exact boundaries agree to the
/// microsecond (an offset measured per host would differ between them by its error, and a fake clock stands still while
/// the database's runs). Production never registers it.
/// </summary>
internal sealed class ZeroOffsetDatabaseClock;
