using System;

namespace ScaleOps;

/// <summary>
/// The Redis keys a package writes, as it declares them with <c>builder.AddRedisKeyNamespace(...)</c>: every one of its
/// keys starts with <see cref="Prefix"/>, which the setting <see cref="Setting"/> (<see cref="Value"/>) decides. At
/// start-up the host refuses two packages whose prefixes overlap (one begins with the other): they could write the same
/// key.
/// </summary>
public sealed class RedisKeyNamespace
{
    /// <summary>Declares a namespace.</summary>
    /// <param name="setting">The setting that decides it, as the user writes it (<c>ScaleOps:Caching:KeyPrefix</c>).</param>
    /// <param name="value">The setting's value.</param>
    /// <param name="prefix">
    /// What every key of the package starts with: the value and any fixed text that always follows it, up to the first
    /// part that varies (ScaleOps.Caching: <c>{KeyPrefix}:{</c>, where the tenant's hash tag opens). The longer the
    /// fixed part, the fewer configurations are refused that could never share a key.
    /// </param>
    /// <exception cref="ArgumentException">An argument is null or empty.</exception>
    public RedisKeyNamespace(string setting, string value, string prefix)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(setting);
        ArgumentNullException.ThrowIfNull(value);
        ArgumentException.ThrowIfNullOrEmpty(prefix);
        Setting = setting;
        Value = value;
        Prefix = prefix;
    }

    /// <summary>The setting that decides the namespace, for the start-up error.</summary>
    public string Setting { get; }

    /// <summary>The setting's value, for the start-up error.</summary>
    public string Value { get; }

    /// <summary>What every key the package writes starts with.</summary>
    public string Prefix { get; }
}
