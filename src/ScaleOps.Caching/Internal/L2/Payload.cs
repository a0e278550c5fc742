using System;
using System.Buffers;
using System.Buffers.Binary;

namespace ScaleOps.Caching.Internal.L2;

/// <summary>
/// The bytes stored in Redis: a 10-byte header (format version, flags, fresh-until as Unix milliseconds) and the
/// serialized value. The header lets every instance apply the same freshness and fail-safe rules to a value read from
/// Redis, in the same single GET.
/// </summary>
internal static class Payload
{
    public const int HeaderSize = 10;
    private const byte Version = 1;
    private const byte NullFlag = 1;

    public static void WriteHeader(Span<byte> header, bool isNull, long freshUntilUnixMs)
    {
        header[0] = Version;
        header[1] = isNull ? NullFlag : (byte)0;
        BinaryPrimitives.WriteInt64LittleEndian(header[2..], freshUntilUnixMs);
    }

    /// <summary>Reads a header.</summary>
    /// <param name="data">The stored bytes.</param>
    /// <param name="isNull">Whether the value is a cached "not found".</param>
    /// <param name="freshUntilUnixMs">Until when the value is fresh.</param>
    /// <param name="body">The serialized value.</param>
    /// <returns>Whether the header is valid.</returns>
    public static bool TryRead(ReadOnlySpan<byte> data, out bool isNull, out long freshUntilUnixMs, out ReadOnlySpan<byte> body)
    {
        if (data.Length < HeaderSize || data[0] != Version)
        {
            isNull = false;
            freshUntilUnixMs = 0;
            body = default;
            return false;
        }

        isNull = (data[1] & NullFlag) != 0;
        freshUntilUnixMs = BinaryPrimitives.ReadInt64LittleEndian(data[2..]);
        body = data[HeaderSize..];
        return true;
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
