using System;

namespace ScaleOps.Internal;

/// <summary>
/// A package's declared Redis key namespace (<c>AddRedisKeyNamespace</c>): its owner, and how to resolve it from the
/// package's options once they are valid (<see langword="null"/>: the options are invalid, or the package writes no
/// Redis key with them).
/// </summary>
internal sealed class RedisKeyNamespaceSource(string owner, Func<IServiceProvider, RedisKeyNamespace?> resolve)
{
    public string Owner { get; } = owner;

    public RedisKeyNamespace? Resolve(IServiceProvider services) => resolve(services);
}

/// <summary>
/// The options type the key namespace check hangs on (<c>ValidateOnStart</c>): it holds nothing, its validator
/// (<see cref="Validators.RedisKeyNamespaceValidator"/>) reads the declared namespaces.
/// </summary>
internal sealed class RedisKeyNamespaceCheck;
