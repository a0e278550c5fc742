using System;
using System.IO;
using System.Security.Cryptography;
using System.Text;
using System.Threading;
using System.Threading.Tasks;
using Polly;
using ScaleOps.Tenancy;
using StackExchange.Redis;

namespace ScaleOps.Resilience.Internal.RateLimiting;

/// <summary>The script call: <c>EVALSHA</c>, falling back to <c>EVAL</c> (which loads it) when the server answers NOSCRIPT.</summary>
internal sealed partial class RedisTenantRateLimiter
{
    internal static readonly string Script = LoadScript();
    private static readonly byte[] ScriptSha1 = SHA1.HashData(Encoding.UTF8.GetBytes(Script));

    /// <summary>The key of a tenant's buckets: the tenant is a hash tag, so the key lives on one Cluster slot.</summary>
    internal string Key(TenantId tenant, CompiledPlan plan) => string.Concat(_options.RedisKeyPrefix, "{", tenant.ToString(), "}:", plan.Name);

    /// <summary>One script call through the breaker; failures come back as the outcome's exception, never thrown.</summary>
    private async Task<Outcome<Decision>> EvaluateAsync(TenantId tenant, CompiledPlan plan, int want, int max, CancellationToken cancellationToken)
    {
        var database = await _redis.GetDatabaseAsync().ConfigureAwait(false);
        var keys = new RedisKey[] { Key(tenant, plan) };
        var args = new RedisValue[3 + plan.ScriptArgs.Length];
        args[0] = want;
        args[1] = max;
        args[2] = plan.RuleCount;
        plan.ScriptArgs.CopyTo(args, 3);
        var context = ResilienceContextPool.Shared.Get(cancellationToken);
        try
        {
            return await _pipeline.ExecuteOutcomeAsync(
                static async (_, state) => await CallAsync(state.database, state.keys, state.args).ConfigureAwait(false),
                context,
                (database, keys, args)).ConfigureAwait(false);
        }
        finally
        {
            ResilienceContextPool.Shared.Return(context);
        }
    }

    private static async ValueTask<Outcome<Decision>> CallAsync(IDatabase database, RedisKey[] keys, RedisValue[] args)
    {
        try
        {
            RedisResult result;
            try
            {
                result = await database.ScriptEvaluateAsync(ScriptSha1, keys, args).ConfigureAwait(false);
            }
            catch (RedisServerException ex) when (ex.Message.StartsWith("NOSCRIPT", StringComparison.Ordinal))
            {
                result = await database.ScriptEvaluateAsync(Script, keys, args).ConfigureAwait(false);
            }

            var values = (RedisResult[])result!;
            return Outcome.FromResult(new Decision(
                (int)values[0],
                (long)values[1],
                (long)values[2],
                TimeSpan.FromMilliseconds((long)values[3]),
                TimeSpan.FromMilliseconds((long)values[4])));
        }
        catch (Exception ex) when (ex is RedisException or TimeoutException or System.IO.IOException or System.Net.Sockets.SocketException)
        {
            return Outcome.FromException<Decision>(ex);
        }
    }

    private static string LoadScript()
    {
        using var stream = typeof(RedisTenantRateLimiter).Assembly.GetManifestResourceStream("ScaleOps.Resilience.RateLimiting.Lua.token_bucket.lua")
            ?? throw new InvalidOperationException("The embedded script token_bucket.lua is missing.");
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    }
}
