using System;
using System.IO;
using System.Security.Cryptography;
using System.Text;
using System.Threading;
using System.Threading.Tasks;
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

    private async Task<Decision> EvaluateAsync(TenantId tenant, CompiledPlan plan, int want, int max, CancellationToken cancellationToken)
    {
        var database = await _redis.GetDatabaseAsync().ConfigureAwait(false);
        var keys = new RedisKey[] { Key(tenant, plan) };
        var args = new RedisValue[3 + plan.ScriptArgs.Length];
        args[0] = want;
        args[1] = max;
        args[2] = plan.RuleCount;
        plan.ScriptArgs.CopyTo(args, 3);
        var result = await _pipeline.ExecuteAsync(
            static async (state, _) => await CallAsync(state.database, state.keys, state.args).ConfigureAwait(false),
            (database, keys, args),
            cancellationToken).ConfigureAwait(false);
        var values = (RedisResult[])result!;
        return new Decision(
            (int)values[0],
            (long)values[1],
            (long)values[2],
            TimeSpan.FromMilliseconds((long)values[3]),
            TimeSpan.FromMilliseconds((long)values[4]));
    }

    private static async Task<RedisResult> CallAsync(IDatabase database, RedisKey[] keys, RedisValue[] args)
    {
        try
        {
            return await database.ScriptEvaluateAsync(ScriptSha1, keys, args).ConfigureAwait(false);
        }
        catch (RedisServerException ex) when (ex.Message.StartsWith("NOSCRIPT", StringComparison.Ordinal))
        {
            return await database.ScriptEvaluateAsync(Script, keys, args).ConfigureAwait(false);
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
