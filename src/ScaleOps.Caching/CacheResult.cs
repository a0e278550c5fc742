using System;
using System.Collections.Generic;

namespace ScaleOps.Caching;

/// <summary>A value read from the cache, with where it came from (for an <c>X-Cache</c> header, say).</summary>
/// <typeparam name="T">The value type.</typeparam>
public readonly struct CacheResult<T> : IEquatable<CacheResult<T>>
{
    /// <summary>Creates a result.</summary>
    /// <param name="value">The value.</param>
    /// <param name="source">Where it came from.</param>
    public CacheResult(T value, CacheSource source)
    {
        Value = value;
        Source = source;
    }

    /// <summary>The value; <c>default</c> when <see cref="HasValue"/> is false.</summary>
    public T Value { get; }

    /// <summary>Where the value came from.</summary>
    public CacheSource Source { get; }

    /// <summary>Whether a value was found or produced.</summary>
    public bool HasValue => Source != CacheSource.None;

    /// <summary>Whether the value was served from the cache (memory, Redis or fail-safe) without running the factory.</summary>
    public bool IsHit => Source is CacheSource.Memory or CacheSource.Redis or CacheSource.Stale;

    /// <summary>Equality.</summary>
    /// <param name="left">Left.</param>
    /// <param name="right">Right.</param>
    /// <returns>Whether both are equal.</returns>
    public static bool operator ==(CacheResult<T> left, CacheResult<T> right) => left.Equals(right);

    /// <summary>Inequality.</summary>
    /// <param name="left">Left.</param>
    /// <param name="right">Right.</param>
    /// <returns>Whether they differ.</returns>
    public static bool operator !=(CacheResult<T> left, CacheResult<T> right) => !left.Equals(right);

    /// <inheritdoc />
    public bool Equals(CacheResult<T> other) => Source == other.Source && EqualityComparer<T>.Default.Equals(Value, other.Value);

    /// <inheritdoc />
    public override bool Equals(object? obj) => obj is CacheResult<T> other && Equals(other);

    /// <inheritdoc />
    public override int GetHashCode() => HashCode.Combine(Value, Source);

    /// <inheritdoc />
    public override string ToString() => $"{Source}: {Value}";
}
