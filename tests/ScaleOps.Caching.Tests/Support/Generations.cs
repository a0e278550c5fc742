using System;
using System.Text;
using System.Threading.Tasks;
using ScaleOps.Caching.Internal;
using StackExchange.Redis;

namespace ScaleOps.Caching.Tests.Support;

/// <summary>A tenant's generation as Redis holds it, for tests that build the cache's Redis keys themselves.</summary>
internal static class Generations
{
    /// <summary>
    /// The generation the cache set when it first touched the tenant (a new tenant starts at the server's clock in
    /// microseconds, not at 0). Throws when the key is missing, so a key built from it names a value the cache wrote.
    /// </summary>
    public static async Task<long> OfAsync(IDatabase raw, string prefix, string tenant)
    {
        var key = RedisKeys.Generation(RedisKeys.TenantPrefix(prefix, tenant));
        var value = await raw.StringGetAsync(key);
        return value.IsNull
            ? throw new InvalidOperationException($"Redis holds no generation at '{key}': let the cache touch tenant '{tenant}' first.")
            : (long)value;
    }

    /// <summary>Every key Redis holds for the tenant (its keys share one slot, so one node of a cluster has them all).</summary>
    public static async Task<string[]> TenantKeysAsync(IDatabase raw, string prefix, string tenant)
    {
        var tenantPrefix = RedisKeys.TenantPrefix(prefix, tenant);
        var pattern = new StringBuilder();
        foreach (var c in tenantPrefix)
        {
            pattern.Append(c is '*' or '?' or '[' or '\\' ? "\\" + c : c.ToString());
        }

        var keys = (RedisResult[])(await raw.ScriptEvaluateAsync(
            "return redis.call('KEYS', ARGV[1])", [RedisKeys.Generation(tenantPrefix)], [pattern.Append('*').ToString()]))!;
        return Array.ConvertAll(keys, k => (string)k!);
    }
}
