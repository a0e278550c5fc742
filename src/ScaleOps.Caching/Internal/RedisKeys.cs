using System;
using System.Globalization;
using ScaleOps.Tenancy;

namespace ScaleOps.Caching.Internal;

/// <summary>
/// The Redis key layout. Every key of a tenant starts with <c>{prefix}:{{tenant}}:</c>, so one tenant's keys share a
/// Redis Cluster slot (scripts may touch several). The tenant is escaped (<c>%</c>, <c>{</c>, <c>}</c>) so that it ends at
/// the first <c>}</c>; then come fixed markers and the caller's key verbatim. Distinct (tenant, key) pairs therefore
/// always give distinct Redis keys:
/// <list type="bullet">
/// <item><c>P:{t}:gen</c>: the tenant's generation (an integer; bumping it invalidates the whole tenant; when missing it
/// starts again at the server's clock in microseconds, above every generation before)</item>
/// <item><c>P:{t}:v{gen}:k:{key}</c>: a value</item>
/// <item><c>P:{t}:v{gen}:z:{tag}</c>: the index of a tag: the value keys carrying it, scored by when they expire</item>
/// <item><c>P:{t}:v{gen}:t:{tag}</c>: a tag's plain set as older versions wrote it (never pruned): only read and deleted</item>
/// <item><c>P:{t}:v{gen}:l:{key}</c>: the cross-instance stampede lock of a key</item>
/// </list>
/// </summary>
internal static class RedisKeys
{
    /// <summary>
    /// What every key starts with, <c>P:{</c>: the namespace the cache declares to Core, which refuses another package's
    /// keys that could be the same (ScaleOps.Resilience's limiter with the prefix <c>P:</c>, whose plan <c>gen</c> would be
    /// the generation key). The backplane channel is no key (channels are a namespace of their own).
    /// </summary>
    /// <param name="keyPrefix">The configured prefix.</param>
    /// <returns><c>P:{</c>.</returns>
    public static string Start(string keyPrefix) => keyPrefix + ":{";

    public static string TenantPrefix(string keyPrefix, string tenant) => string.Concat(keyPrefix, ":{", Escape(tenant), "}:");

    public static string Generation(string tenantPrefix) => tenantPrefix + "gen";

    public static string Value(string tenantPrefix, long generation, string key) => Build(tenantPrefix, generation, ":k:", key);

    /// <summary>The part of a value key before the caller's key (cached as bytes by <see cref="L1.TenantBucket.ValueKey"/>).</summary>
    /// <param name="tenantPrefix">The tenant's prefix.</param>
    /// <param name="generation">The tenant's generation.</param>
    /// <returns><c>P:{t}:v{gen}:k:</c>.</returns>
    public static string ValuePrefix(string tenantPrefix, long generation) => Build(tenantPrefix, generation, ":k:", "");

    /// <summary>The index of a tag: a sorted set of the value keys carrying it, scored by their expiry (server ms).</summary>
    public static string Tag(string tenantPrefix, long generation, string tag) => Build(tenantPrefix, generation, ":z:", tag);

    /// <summary>
    /// A tag's plain set as versions before the index wrote it: never written any more, still emptied by a tag removal
    /// (an instance of an older version may still add to it while a deployment rolls out).
    /// </summary>
    public static string LegacyTag(string tenantPrefix, long generation, string tag) => Build(tenantPrefix, generation, ":t:", tag);

    public static string Lock(string tenantPrefix, long generation, string key) => Build(tenantPrefix, generation, ":l:", key);

    public static string Channel(string keyPrefix) => keyPrefix + ":backplane";

    public static string Escape(string tenant) => TenantHashTag.Escape(tenant);

    private static string Build(string tenantPrefix, long generation, string marker, string key)
    {
        Span<char> digits = stackalloc char[20];
        generation.TryFormat(digits, out var written, provider: CultureInfo.InvariantCulture);
        return string.Concat(tenantPrefix, "v", digits[..written].ToString(), marker + key);
    }
}
