using System;
using System.IO;
using System.Runtime.CompilerServices;
using System.Security.Cryptography;
using System.Text;
using System.Threading;
using System.Threading.Tasks;
using Polly;
using Polly.CircuitBreaker;
using ScaleOps.Tenancy;
using StackExchange.Redis;

namespace ScaleOps.Resilience.Internal.RateLimiting;

/// <summary>
/// The script call: <c>EVALSHA</c> through the <c>redis</c> breaker, then <c>EVAL</c> (which loads the script) only when
/// the server answers NOSCRIPT. Kept cheap per decision: the tenant's key array is built once and cached, the common
/// argument array (one permit, no lease) is the plan's, built at start-up, and the pipeline runs a callback typed
/// <see cref="Outcome{TResult}"/> of <see cref="object"/>, the registry pipeline's own result type, so Polly neither wraps
/// it in a converting state machine nor boxes the result.
/// </summary>
internal sealed partial class RedisTenantRateLimiter
{
    internal static readonly string Script = LoadScript();
    private static readonly byte[] ScriptSha1 = SHA1.HashData(Encoding.UTF8.GetBytes(Script));
    private const int MaxCachedKeys = 100_000;
    private static readonly TimeSpan KeySweepInterval = TimeSpan.FromMinutes(1);
    private long _nextKeySweep;
    private int _keySweeps;

    /// <summary>
    /// The key of a tenant's buckets, <c>{prefix}{{tenant}}:{plan}</c>: the tenant is a hash tag, so the key lives on one
    /// Cluster slot. The tenant is escaped (<c>%</c>, <c>{</c>, <c>}</c> as <c>%25</c>, <c>%7B</c>, <c>%7D</c>, as
    /// ScaleOps.Caching does) so that it ends at the first <c>}</c>, and the prefix may hold no brace (validated): two
    /// (tenant, plan) pairs never share a key, whatever braces or colons tenant ids and plan names contain.
    /// </summary>
    internal string Key(TenantId tenant, CompiledPlan plan) => string.Concat(_options.RedisKeyPrefix, TenantHashTag.Of(tenant), ":", plan.Name);

    /// <summary>The script's <c>KEYS</c> for the tenant under <paramref name="plan"/>, cached (never mutated once built).</summary>
    internal RedisKey[] KeysOf(TenantId tenant, CompiledPlan plan)
    {
        if (_keys.TryGetValue(tenant, out var cached) && ReferenceEquals(cached.Plan, plan))
        {
            var sweeps = Volatile.Read(ref _keySweeps);
            if (cached.Sweeps != sweeps)
            {
                cached.Sweeps = sweeps; // written once per sweep interval, not per decision
            }

            return cached.Keys;
        }

        if (_keys.Count >= MaxCachedKeys)
        {
            _keys.Clear(); // bounded: the cache only saves a string concatenation per decision
        }

        var keys = new RedisKey[] { Key(tenant, plan) };
        _keys[tenant] = new TenantKey(plan, keys) { Sweeps = Volatile.Read(ref _keySweeps) };
        return keys;
    }

    /// <summary>
    /// Once per <see cref="KeySweepInterval"/> (on the call path, one caller): drops the script keys of tenants that made
    /// no decision during the whole interval before. They used to be kept until the 100,000 cap cleared them all, one
    /// for each tenant ever seen. Cheap when no sweep is due (a comparison with the timestamp the caller read).
    /// </summary>
    private void SweepKeysIfDue(long now)
    {
        var next = Interlocked.Read(ref _nextKeySweep);
        if (now < next || Interlocked.CompareExchange(ref _nextKeySweep, now + (long)(KeySweepInterval.TotalSeconds * _time.TimestampFrequency), next) != next)
        {
            return;
        }

        var sweeps = Interlocked.Increment(ref _keySweeps);
        foreach (var pair in _keys)
        {
            if (sweeps - pair.Value.Sweeps >= 2)
            {
                _keys.TryRemove(pair);
            }
        }
    }

    /// <summary>
    /// One script call under the <c>redis</c> breaker; failures come back as the outcome's exception, never thrown.
    /// While the breaker is closed the call is made directly and its outcome then recorded through the breaker's pipeline
    /// (a synchronous pass: the same failure classification and sampling as a call made inside it, without Polly's async
    /// state machine per decision). Open, half-open or isolated: the call goes inside the pipeline, which refuses it or
    /// lets the half-open trial through.
    /// </summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<Outcome<object>> EvaluateAsync(
        TenantId tenant, CompiledPlan plan, int want, int max, int givenBack, CancellationToken cancellationToken)
    {
        // The connection is made inside the call (a failed connect is an outcome like a failed command: failure mode and breaker).
        var args = want == 1 && max == 1 && givenBack == 0 ? plan.SinglePermitArgs : plan.ScriptArguments(want, max, givenBack);
        var call = new ScriptCall(_redis, KeysOf(tenant, plan), args);
        var closed = _redisState.CircuitState == CircuitState.Closed;

        // Closed: the pipeline only records an outcome already in hand, so a cancellation must not replace it.
        var context = ResilienceContextPool.Shared.Get(closed ? CancellationToken.None : cancellationToken);
        try
        {
            if (closed)
            {
                var direct = await CallDirectAsync(call, cancellationToken).ConfigureAwait(false);
                if (direct.Exception is OperationCanceledException && cancellationToken.IsCancellationRequested)
                {
                    return direct; // the caller cancelled: not a failure of Redis, so not recorded (the context's token is None)
                }

                var recorded = await _pipeline.ExecuteOutcomeAsync(static (_, outcome) => new ValueTask<Outcome<object>>(outcome), context, direct)
                    .ConfigureAwait(false);

                // Opened by another call meanwhile: this call was made before, and its answer stands.
                return recorded.Exception is BrokenCircuitException ? direct : recorded;
            }

            var outcome = await _pipeline.ExecuteOutcomeAsync(static (_, call) => EvalShaAsync(call), context, call).ConfigureAwait(false);
            if (outcome.Exception is RedisServerException noScript && IsNoScript(noScript))
            {
                ResilienceContextPool.Shared.Return(context);
                context = ResilienceContextPool.Shared.Get(cancellationToken);
                outcome = await _pipeline.ExecuteOutcomeAsync(static (_, call) => EvalAsync(call), context, call).ConfigureAwait(false);
            }

            return outcome;
        }
        finally
        {
            ResilienceContextPool.Shared.Return(context);
        }
    }

    /// <summary><c>EVALSHA</c>, then <c>EVAL</c> (which loads the script: a restarted or flushed server) on NOSCRIPT.</summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private static async ValueTask<Outcome<object>> CallDirectAsync(ScriptCall call, CancellationToken cancellationToken)
    {
#pragma warning disable CA1031 // every failure becomes the outcome the breaker classifies, as inside a Polly pipeline
        IDatabase? database = null;
        try
        {
            cancellationToken.ThrowIfCancellationRequested();
            database = await call.Redis.GetDatabaseAsync().ConfigureAwait(false);
            return Outcome.FromResult<object>(await database.ScriptEvaluateAsync(ScriptSha1, call.Keys, call.Args).ConfigureAwait(false));
        }
        catch (RedisServerException ex) when (IsNoScript(ex))
        {
            try
            {
                return Outcome.FromResult<object>(await database!.ScriptEvaluateAsync(Script, call.Keys, call.Args).ConfigureAwait(false));
            }
            catch (Exception retried)
            {
                return Outcome.FromException<object>(retried);
            }
        }
        catch (Exception ex)
        {
            return Outcome.FromException<object>(ex);
        }
#pragma warning restore CA1031
    }

    internal static bool IsNoScript(RedisServerException exception) => exception.Message.StartsWith("NOSCRIPT", StringComparison.Ordinal);

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private static async ValueTask<Outcome<object>> EvalShaAsync(ScriptCall call)
    {
        var database = await call.Redis.GetDatabaseAsync().ConfigureAwait(false);
        return Outcome.FromResult<object>(await database.ScriptEvaluateAsync(ScriptSha1, call.Keys, call.Args).ConfigureAwait(false));
    }

    private static async ValueTask<Outcome<object>> EvalAsync(ScriptCall call)
    {
        var database = await call.Redis.GetDatabaseAsync().ConfigureAwait(false);
        return Outcome.FromResult<object>(await database.ScriptEvaluateAsync(Script, call.Keys, call.Args).ConfigureAwait(false));
    }

    /// <summary>The script's answer: <c>{granted, limit, remaining, reset_ms, retry_after_ms}</c>.</summary>
    private static Decision ToDecision(RedisResult result) => new(
        (int)result[0],
        (long)result[1],
        (long)result[2],
        TimeSpan.FromMilliseconds((long)result[3]),
        TimeSpan.FromMilliseconds((long)result[4]));

    private static string LoadScript()
    {
        using var stream = typeof(RedisTenantRateLimiter).Assembly.GetManifestResourceStream("ScaleOps.Resilience.RateLimiting.Lua.token_bucket.lua")
            ?? throw new InvalidOperationException("The embedded script token_bucket.lua is missing.");
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    }

    private readonly record struct ScriptCall(RedisConnection Redis, RedisKey[] Keys, RedisValue[] Args);

    private sealed record TenantKey(CompiledPlan Plan, RedisKey[] Keys)
    {
        /// <summary>The key sweeps done when the tenant last used these keys (see <see cref="SweepKeysIfDue"/>).</summary>
        public int Sweeps { get; set; }
    }
}
