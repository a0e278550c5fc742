using System;
using System.Buffers.Binary;

namespace ScaleOps.SampleHost.Documents;

/// <summary>The opaque keyset cursor: the (created_at, id) of the last item of a page, base64url-encoded.</summary>
public static class Cursor
{
    public static string Encode(DateTimeOffset createdAt, Guid id)
    {
        Span<byte> bytes = stackalloc byte[24];
        BinaryPrimitives.WriteInt64BigEndian(bytes, createdAt.UtcTicks);
        id.TryWriteBytes(bytes[8..]);
        return Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');
    }

    public static bool TryDecode(string? cursor, out DateTimeOffset createdAt, out Guid id)
    {
        createdAt = default;
        id = default;
        if (string.IsNullOrEmpty(cursor) || cursor.Length != 32)
        {
            return false;
        }

        var base64 = cursor.Replace('-', '+').Replace('_', '/');
        Span<byte> bytes = stackalloc byte[24];
        if (!Convert.TryFromBase64String(base64, bytes, out var written) || written != 24)
        {
            return false;
        }

        var ticks = BinaryPrimitives.ReadInt64BigEndian(bytes);
        if (ticks < DateTimeOffset.MinValue.UtcTicks || ticks > DateTimeOffset.MaxValue.UtcTicks)
        {
            return false;
        }

        createdAt = new DateTimeOffset(ticks, TimeSpan.Zero);
        id = new Guid(bytes[8..]);
        return true;
    }
}
