using System;
using System.Buffers;
using System.Buffers.Binary;

namespace ScaleOps.Caching.Internal.L2;

/// <summary>
/// The bytes stored in Redis: a 10-byte header (format version, flags, fresh-until as Unix milliseconds), the entry's
/// tags when it has any (count, then length-prefixed UTF-8), and the serialized value. The header lets every instance
/// apply the same freshness, fail-safe and tag rules to a value read from Redis, in the same single GET.
/// </summary>
internal static class Payload
{
    public const int HeaderSize = 10;
    private const byte Version = 1;
    private const byte NullFlag = 1;
    private const byte TagsFlag = 2;

    public static void WriteHeader(Span<byte> header, bool isNull, bool hasTags, long freshUntilUnixMs)
    {
        header[0] = Version;
        header[1] = (byte)((isNull ? NullFlag : 0) | (hasTags ? TagsFlag : 0));
        BinaryPrimitives.WriteInt64LittleEndian(header[2..], freshUntilUnixMs);
    }

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
    /// <param name="tags">The tags, or null.</param>
    /// <param name="body">The serialized value after the tags.</param>
    /// <returns>Whether the section is well formed.</returns>
    public static bool TryReadTags(ReadOnlySpan<byte> data, out string[]? tags, out ReadOnlySpan<byte> body)
    {
        tags = null;
        body = data[HeaderSize..];
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
    /// <param name="body">The serialized value.</param>
    /// <returns>Whether the header is valid.</returns>
    /// <param name="tags">The entry's tags, or null.</param>
    public static bool TryRead(ReadOnlySpan<byte> data, out bool isNull, out long freshUntilUnixMs, out string[]? tags, out ReadOnlySpan<byte> body)
    {
        isNull = false;
        freshUntilUnixMs = 0;
        tags = null;
        body = default;
        if (data.Length < HeaderSize || data[0] != Version)
        {
            return false;
        }

        isNull = (data[1] & NullFlag) != 0;
        freshUntilUnixMs = BinaryPrimitives.ReadInt64LittleEndian(data[2..]);
        return TryReadTags(data, out tags, out body);
    }
}

/// <summary>A growable buffer that reserves the header in front of the serialized value.</summary>
internal sealed class PayloadWriter : IBufferWriter<byte>
{
    private byte[] _buffer = new byte[256];
    private int _written = Payload.HeaderSize;

    public int BodyLength => _written - Payload.HeaderSize;

    public Span<byte> Header => _buffer.AsSpan(0, Payload.HeaderSize);

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
