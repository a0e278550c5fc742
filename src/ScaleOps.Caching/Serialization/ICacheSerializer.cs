using System;
using System.Buffers;

namespace ScaleOps.Caching.Serialization;

/// <summary>Turns cached values into the bytes stored in Redis and back. The default is System.Text.Json.</summary>
public interface ICacheSerializer
{
    /// <summary>Writes <paramref name="value"/> to <paramref name="destination"/>.</summary>
    /// <typeparam name="T">The value type.</typeparam>
    /// <param name="value">The value.</param>
    /// <param name="destination">Where the bytes go.</param>
    void Serialize<T>(T value, IBufferWriter<byte> destination);

    /// <summary>Reads a value written by <see cref="Serialize{T}"/>.</summary>
    /// <typeparam name="T">The value type.</typeparam>
    /// <param name="data">The bytes.</param>
    /// <returns>The value.</returns>
    T Deserialize<T>(ReadOnlySpan<byte> data);
}
