using System;
using System.Buffers;
using System.Text.Json;

namespace ScaleOps.Caching.Serialization;

/// <summary>The default serializer: System.Text.Json, web defaults unless other options are given.</summary>
public sealed class SystemTextJsonCacheSerializer : ICacheSerializer
{
    private readonly JsonSerializerOptions _options;

    /// <summary>Creates the serializer with <see cref="JsonSerializerDefaults.Web"/>.</summary>
    public SystemTextJsonCacheSerializer()
        : this(new JsonSerializerOptions(JsonSerializerDefaults.Web))
    {
    }

    /// <summary>Creates the serializer.</summary>
    /// <param name="options">The options (add a source-generated context for trimming and speed).</param>
    public SystemTextJsonCacheSerializer(JsonSerializerOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        _options = options;
    }

    /// <inheritdoc />
    public void Serialize<T>(T value, IBufferWriter<byte> destination)
    {
        using var writer = new Utf8JsonWriter(destination);
        JsonSerializer.Serialize(writer, value, _options);
    }

    /// <inheritdoc />
    public T Deserialize<T>(ReadOnlySpan<byte> data) => JsonSerializer.Deserialize<T>(data, _options)!;
}
