using System;

namespace ScaleOps.Resilience.Internal.RateLimiting;

/// <summary>The outcome of one bucket decision, for the lease metadata.</summary>
/// <param name="Granted">Tokens taken (0 when rejected).</param>
/// <param name="Limit">The most constraining rule's bucket size.</param>
/// <param name="Remaining">Whole tokens left in that rule.</param>
/// <param name="Reset">Time until that rule's bucket is full.</param>
/// <param name="RetryAfter">When rejected: time until every rule has the tokens asked for.</param>
internal readonly record struct Decision(int Granted, long Limit, long Remaining, TimeSpan Reset, TimeSpan RetryAfter);
