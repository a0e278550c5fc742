using System;
using System.Collections.Generic;
using System.Threading;
using System.Threading.Tasks;
using ScaleOps.Resilience.CircuitBreakers;
using ScaleOps.Tenancy;

namespace ScaleOps.Resilience.Internal.RateLimiting;

/// <summary>
/// The end of leased mode: the tokens an instance holds are given back to their tenants' buckets when the host stops
/// (<see cref="LeaseShutdown"/>, after every hosted service has stopped and before the container disposes anything, so
/// a multiplexer the host registered is still there) and again, for anything leased since, when the limiter is disposed.
/// A host shutting down would otherwise keep them from the other instances until the buckets refill: for a daily rule,
/// up to <c>LeaseSize - 1</c> requests of the day per hot tenant and shutdown.
/// </summary>
internal sealed partial class RedisTenantRateLimiter
{
    /// <summary>How long a stop or a dispose waits for Redis to take back the unspent leased tokens.</summary>
    internal static readonly TimeSpan GiveBackOnDispose = TimeSpan.FromSeconds(1);

    private readonly object _lostGate = new();
    private int _lostTokens;
    private int _lostTenants;
    private Exception? _lostBecause;
    private int _drained = 1; // no stop or dispose is waiting: a failed give-back reports its own loss

    /// <summary>
    /// Stops leasing (later requests make their own round trips) and gives back what the pools hold, batches in flight
    /// included, waiting at most <see cref="GiveBackOnDispose"/> or until <paramref name="cancellationToken"/> fires.
    /// Called when the host has stopped; never throws.
    /// </summary>
    internal async Task StopLeasingAsync(CancellationToken cancellationToken)
    {
        if (CloseLeases() is { } givingBack)
        {
            try
            {
                await givingBack.WaitAsync(GiveBackOnDispose, cancellationToken).ConfigureAwait(false); // real time, as the client's own timeout
            }
            catch (Exception ex) when (ex is TimeoutException or OperationCanceledException)
            {
                Log.LeasedTokensGiveBackUnfinished(_logger, GiveBackOnDispose);
            }
        }

        ReportLost();
    }

    /// <summary>
    /// Marks the limiter disposed: later calls throw <see cref="ObjectDisposedException"/>, as the built-in limiters do;
    /// requests waiting for a batch in flight get a failed lease now. The leased tokens not spent, and those of a batch
    /// still in flight, are given back to their tenants' buckets, waiting at most <see cref="GiveBackOnDispose"/> for
    /// Redis; a batch answered later gives its tokens back when it arrives. Never throws: tokens that cannot be given
    /// back (Redis down, or a host's multiplexer the container disposed first) are logged once.
    /// </summary>
    protected override void Dispose(bool disposing)
    {
        if (Stop() is { } givingBack)
        {
            try
            {
                if (!givingBack.Wait(GiveBackOnDispose))
                {
                    Log.LeasedTokensGiveBackUnfinished(_logger, GiveBackOnDispose);
                }
            }
            catch (AggregateException)
            {
                // Never thrown (every failure is an outcome, counted as lost).
            }
        }

        ReportLost();
    }

    /// <inheritdoc cref="Dispose(bool)"/>
    protected override async ValueTask DisposeAsyncCore()
    {
        if (Stop() is { } givingBack)
        {
            try
            {
                await givingBack.WaitAsync(GiveBackOnDispose).ConfigureAwait(false); // real time, as the client's own timeout
            }
            catch (TimeoutException)
            {
                Log.LeasedTokensGiveBackUnfinished(_logger, GiveBackOnDispose);
            }
        }

        ReportLost();
    }

    /// <summary>Disposes once; what to wait for (see <see cref="CloseLeases"/>), or <see langword="null"/>.</summary>
    private Task? Stop()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return null;
        }

        var givingBack = CloseLeases();
        _fallback.Dispose();
        return givingBack;
    }

    /// <summary>
    /// Stops leasing and closes every pool: its waiters are answered, its unspent tokens given back (one script call per
    /// pool, taking nothing; none while the <c>redis</c> breaker is broken: counted as lost), and a batch in flight gives
    /// its tokens back when it arrives (its leader calls <see cref="GiveBackAsync"/> before it ends the batch). Returns the
    /// give-backs and the batches in flight to wait for, with the background give-backs begun before (pools the sweep
    /// dropped, tokens of a plan the tenant left: <see cref="GiveBacks"/>), or <see langword="null"/>.
    /// </summary>
    private Task? CloseLeases()
    {
        Interlocked.Exchange(ref _leasing, 0); // a full fence before the pools are read: see PoolOf
        Volatile.Write(ref _drained, 0); // losses are reported by the caller, once it has waited
        List<Task>? pending = null;
        var redisUp = !_breakers.IsBroken(CircuitBreakerNames.Redis); // down: no round trip to wait for
        foreach (var pair in _pools)
        {
            var (plan, tokens, batch) = pair.Value.Close();
            _pools.TryRemove(pair);
            if (batch is not null)
            {
                (pending ??= []).Add(batch);
            }

            if (plan is not null && tokens > 0)
            {
                if (redisUp)
                {
                    (pending ??= []).Add(GiveBackAsync(pair.Key, plan, tokens));
                }
                else
                {
                    Lost(tokens, null);
                }
            }
        }

        if (_giveBacks.WhenIdle() is { } background)
        {
            (pending ??= []).Add(background); // counted when their tokens left a pool, so before the pools were closed above
        }

        return pending is null ? null : Task.WhenAll(pending);
    }

    /// <summary>
    /// Gives back, in the background and outside the breaker, tokens that left a pool counted in flight (a pool swept away,
    /// tokens leased under a plan the tenant left); a failure is counted and logged as lost (<see cref="GiveBackAsync"/>).
    /// </summary>
    private void GiveBackLater(TenantId tenant, LeasePool.Unspent unspent)
    {
        if (unspent.Plan is not { } plan || unspent.Tokens <= 0)
        {
            return; // nothing left the pool, and nothing was counted
        }

        _ = Task.Run(async () =>
        {
            try
            {
                await GiveBackAsync(tenant, plan, unspent.Tokens).ConfigureAwait(false);
            }
            finally
            {
                _giveBacks.Done();
            }
        });
    }

    /// <summary>
    /// One give-back script call outside the breaker; a failure counts the tokens as lost, reported by the stop or
    /// dispose waiting for it, or here when none is (a background give-back while the limiter runs, or one that finished
    /// after the stop stopped waiting).
    /// </summary>
    private async Task GiveBackAsync(TenantId tenant, CompiledPlan plan, int tokens)
    {
        var outcome = await CallDirectAsync(new ScriptCall(_redis, KeysOf(tenant, plan), plan.ScriptArguments(0, 0, tokens)), CancellationToken.None)
            .ConfigureAwait(false);
        if (outcome.Exception is { } exception)
        {
            Lost(tokens, exception);
            if (Volatile.Read(ref _drained) != 0)
            {
                ReportLost(); // no stop or dispose is waiting any more: nobody else would say so
            }
        }
    }

    private void Lost(int tokens, Exception? exception)
    {
        lock (_lostGate)
        {
            _lostBecause ??= exception;
            _lostTokens += tokens;
            _lostTenants++;
        }
    }

    /// <summary>
    /// Logs the tokens lost since the last report in one warning, however many tenants they were leased for; from now on
    /// a give-back finishing late reports its own loss.
    /// </summary>
    private void ReportLost()
    {
        Volatile.Write(ref _drained, 1);
        int tokens, tenants;
        Exception? exception;
        lock (_lostGate)
        {
            (tokens, tenants, exception) = (_lostTokens, _lostTenants, _lostBecause);
            (_lostTokens, _lostTenants, _lostBecause) = (0, 0, null);
        }

        if (tokens > 0)
        {
            Log.LeasedTokensLost(_logger, tokens, tenants, exception);
        }
    }
}
