using System;

namespace ScaleOps.Resilience.Internal.RateLimiting;

/// <summary>
/// One tenant's stacked token buckets in this process: the same arithmetic as <c>token_bucket.lua</c>, under a lock.
/// </summary>
internal sealed class TokenBuckets(CompiledPlan plan, double nowMs)
{
    private readonly double[] _tokens = (double[])plan.Capacity.Clone();
    private double _lastMs = nowMs;
    private bool _retired;

    public CompiledPlan Plan { get; } = plan;

    /// <summary>
    /// Takes at least <paramref name="want"/> and at most <paramref name="max"/> tokens from every rule, or none.
    /// A retired state (swept away) answers <c>Granted = -1</c>: look the tenant up again.
    /// </summary>
    public Decision Take(double nowMs, int want, int max)
    {
        lock (_tokens)
        {
            if (_retired)
            {
                return new Decision(-1, 0, 0, TimeSpan.Zero, TimeSpan.Zero);
            }

            Refill(nowMs);
            var grant = max;
            for (var i = 0; i < _tokens.Length; i++)
            {
                grant = Math.Min(grant, (int)Math.Floor(_tokens[i]));
            }

            if (grant < want)
            {
                grant = 0;
            }

            var bind = 0;
            var bindLeft = double.MaxValue;
            var bindNextMs = 0d;
            var retryMs = 0d;
            var need = Math.Max(want, 1); // Retry-After: the wait for at least one token, also for a 0-permit probe
            for (var i = 0; i < _tokens.Length; i++)
            {
                _tokens[i] -= grant;
                if (grant == 0 && _tokens[i] < need)
                {
                    retryMs = Math.Max(retryMs, (need - _tokens[i]) / Plan.RatePerMs[i]);
                }

                // The fewest whole tokens left; on a tie, the rule whose next token is furthest away (it still refuses when
                // the others have refilled), so that Reset is worth waiting for.
                var left = Math.Floor(_tokens[i]);
                var nextMs = (left + 1 - _tokens[i]) / Plan.RatePerMs[i];
                if (left < bindLeft || (left == bindLeft && nextMs > bindNextMs))
                {
                    bind = i;
                    bindLeft = left;
                    bindNextMs = nextMs;
                }
            }

            var resetMs = (Plan.Capacity[bind] - _tokens[bind]) / Plan.RatePerMs[bind];
            return new Decision(
                grant,
                (long)Plan.Capacity[bind],
                (long)bindLeft,
                TimeSpan.FromMilliseconds(Math.Ceiling(resetMs)),
                TimeSpan.FromMilliseconds(Math.Ceiling(retryMs)));
        }
    }

    /// <summary>
    /// Retires the state when every bucket is full at <paramref name="nowMs"/> (it then equals a fresh one and can be
    /// dropped); a later <see cref="Take"/> on it answers "retired".
    /// </summary>
    public bool TryRetire(double nowMs)
    {
        lock (_tokens)
        {
            Refill(nowMs);
            for (var i = 0; i < _tokens.Length; i++)
            {
                if (_tokens[i] < Plan.Capacity[i])
                {
                    return false;
                }
            }

            _retired = true;
            return true;
        }
    }

    private void Refill(double nowMs)
    {
        var elapsed = Math.Max(0, nowMs - _lastMs);
        _lastMs = Math.Max(_lastMs, nowMs);
        for (var i = 0; i < _tokens.Length; i++)
        {
            _tokens[i] = Math.Min(Plan.Capacity[i], _tokens[i] + (elapsed * Plan.RatePerMs[i]));
        }
    }
}
