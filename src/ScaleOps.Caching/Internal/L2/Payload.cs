using System;
using System.Buffers;
using System.Buffers.Binary;

namespace ScaleOps.Caching.Internal.L2;

/// <summary>
/// The bytes stored in Redis: a header (format version, flags, fresh-until as Unix milliseconds on Redis' clock as
/// <see cref="RedisClock"/> estimates it; in version 2 also the writer's <see cref="CacheEntryOptions.LocalExpiration"/>),
/// the entry's tags when it has any (count, then length-prefixed UTF-8), and the serialized value. The header lets every instance apply the same freshness,
/// memory-lifetime, fail-safe and tag rules to a value read from Redis, in the same single GET.
/// </summary>
/// <remarks>
/// Version 1 (10 bytes) is written for entries without a memory lifetime shorter than their expiration, so most values
/// stay readable by instances of earlier versions while a deployment rolls out; version 2 (18 bytes: the memory lifetime
/// in milliseconds) only for those with one. Both versions are read.
/// </remarks>
internal static class Payload
{
    public const int HeaderSize = 10;

    /// <summary>The header of version 2: <see cref="HeaderSize"/> plus the writer's memory lifetime (int64 ms).</summary>
    public const int LocalHeaderSize = 18;

    /// <summary>What <see cref="TryRead"/> gives as the memory lifetime of a value whose writer set none.</summary>
    public const long NoLocalExpiration = -1;

    private const byte Version = 1;
    private const byte LocalVersion = 2;
    private const byte NullFlag = 1;
    private const byte TagsFlag = 2;

    /// <summary>Writes the header; its size (<see cref="PayloadWriter.Header"/>) says the version.</summary>
    /// <param name="header">The header bytes: <see cref="HeaderSize"/> or <see cref="LocalHeaderSize"/> long.</param>
    /// <param name="isNull">Whether the value is a cached "not found".</param>
    /// <param name="hasTags">Whether a tags section follows.</param>
    /// <param name="freshUntilUnixMs">Until when the value is fresh.</param>
    /// <param name="localMs">The writer's memory lifetime in milliseconds (only in a <see cref="LocalHeaderSize"/> header).</param>
    public static void WriteHeader(Span<byte> header, bool isNull, bool hasTags, long freshUntilUnixMs, long localMs = NoLocalExpiration)
    {
        header[0] = header.Length == LocalHeaderSize ? LocalVersion : Version;
        header[1] = (byte)((isNull ? NullFlag : 0) | (hasTags ? TagsFlag : 0));
        StampFreshUntil(header, freshUntilUnixMs);
        if (header.Length == LocalHeaderSize)
        {
            BinaryPrimitives.WriteInt64LittleEndian(header[HeaderSize..], Math.Max(0, localMs));
        }
    }

    /// <summary>Sets the fresh-until of a header (the cache stamps it right before the write, on Redis' clock).</summary>
    /// <param name="header">A header written by <see cref="WriteHeader"/>.</param>
    /// <param name="freshUntilUnixMs">Until when the value is fresh, as Unix milliseconds on Redis' clock.</param>
    public static void StampFreshUntil(Span<byte> header, long freshUntilUnixMs) =>
        BinaryPrimitives.WriteInt64LittleEndian(header[2..], freshUntilUnixMs);

    public static void WriteTags(IBufferWriter<byte> writer, string[] tags)
    {
        var span = writer.GetSpan(4);
        BinaryPrimitives.WriteInt32LittleEndian(span, tags.Length);
        writer.Advance(4);
        foreach (var tag in tags)
        {
            var length = System.Text.Encoding.UTF8.GetByteCount(tag);
            span = writer.GetSpan(4 + length);
            BinaryPrimitives.WriteInt32LittleEndian(span, length);
            System.Text.Encoding.UTF8.GetBytes(tag, span[4..]);
            writer.Advance(4 + length);
        }
    }

    /// <summary>Reads the tags section when the header says there is one.</summary>
    /// <param name="data">The stored bytes.</param>
    /// <param name="headerSize">The size of the header (by its version).</param>
    /// <param name="tags">The tags, or null.</param>
    /// <param name="body">The serialized value after the tags.</param>
    /// <returns>Whether the section is well formed.</returns>
    private static bool TryReadTags(ReadOnlySpan<byte> data, int headerSize, out string[]? tags, out ReadOnlySpan<byte> body)
    {
        tags = null;
        body = data[headerSize..];
        if ((data[1] & TagsFlag) == 0)
        {
            return true;
        }

        if (body.Length < 4)
        {
            return false;
        }

        var count = BinaryPrimitives.ReadInt32LittleEndian(body);
        body = body[4..];
        if (count < 0 || count > 10_000)
        {
            return false;
        }

        tags = new string[count];
        for (var i = 0; i < count; i++)
        {
            if (body.Length < 4)
            {
                return false;
            }

            var length = BinaryPrimitives.ReadInt32LittleEndian(body);
            if (length < 0 || body.Length < 4 + length)
            {
                return false;
            }

            tags[i] = System.Text.Encoding.UTF8.GetString(body.Slice(4, length));
            body = body[(4 + length)..];
        }

        return true;
    }

    /// <summary>Reads a header.</summary>
    /// <param name="data">The stored bytes.</param>
    /// <param name="isNull">Whether the value is a cached "not found".</param>
    /// <param name="freshUntilUnixMs">Until when the value is fresh.</param>
    /// <param name="localMs">The writer's memory lifetime in milliseconds, or <see cref="NoLocalExpiration"/>.</param>
    /// <param name="tags">The entry's tags, or null.</param>
    /// <param name="body">The serialized value.</param>
    /// <returns>Whether the header is valid.</returns>
    public static bool TryRead(
        ReadOnlySpan<byte> data, out bool isNull, out long freshUntilUnixMs, out long localMs, out string[]? tags, out ReadOnlySpan<byte> body)
    {
        isNull = false;
        freshUntilUnixMs = 0;
        localMs = NoLocalExpiration;
        tags = null;
        body = default;
        if (data.Length < HeaderSize)
        {
            return false;
        }

        var headerSize = HeaderSize;
        if (data[0] != Version)
        {
            if (data[0] != LocalVersion || data.Length < LocalHeaderSize)
            {
                return false;
            }

            headerSize = LocalHeaderSize;
            localMs = BinaryPrimitives.ReadInt64LittleEndian(data[HeaderSize..]);
            if (localMs < 0)
            {
                return false;
            }
        }

        isNull = (data[1] & NullFlag) != 0;
        freshUntilUnixMs = BinaryPrimitives.ReadInt64LittleEndian(data[2..]);
        return TryReadTags(data, headerSize, out tags, out body);
    }
}

/// <summary>A growable buffer that reserves the header in front of the serialized value.</summary>
/// <param name="headerSize"><see cref="Payload.HeaderSize"/>, or <see cref="Payload.LocalHeaderSize"/> for a value with a memory lifetime.</param>
internal sealed class PayloadWriter(int headerSize = Payload.HeaderSize) : IBufferWriter<byte>
{
    private readonly int _headerSize = headerSize;
    private byte[] _buffer = new byte[256];
    private int _written = headerSize;

    public int BodyLength => _written - _headerSize;

    public Span<byte> Header => _buffer.AsSpan(0, _headerSize);

    public ReadOnlyMemory<byte> WrittenMemory => _buffer.AsMemory(0, _written);

    public void Advance(int count) => _written += count;

    public Memory<byte> GetMemory(int sizeHint = 0)
    {
        Ensure(sizeHint);
        return _buffer.AsMemory(_written);
    }

    public Span<byte> GetSpan(int sizeHint = 0)
    {
        Ensure(sizeHint);
        return _buffer.AsSpan(_written);
    }

    private void Ensure(int sizeHint)
    {
        var needed = _written + Math.Max(sizeHint, 1);
        if (needed > _buffer.Length)
        {
            Array.Resize(ref _buffer, Math.Max(needed, _buffer.Length * 2));
        }
    }
}
