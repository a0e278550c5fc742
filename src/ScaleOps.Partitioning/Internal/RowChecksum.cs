using System;
using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;

namespace ScaleOps.Partitioning.Internal;

/// <summary>
/// SHA-256 over rows of values: each value is a null marker (0xFF), or 0x00, its length and its bytes (UTF-8 for
/// strings, the codec's canonical bytes for typed values). Archives written before typed columns hashed every value as
/// a string the same way, so they still verify.
/// </summary>
internal sealed class RowChecksum : IDisposable
{
    private readonly IncrementalHash _hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);

    public long Rows { get; private set; }

    public void AddNull()
    {
        Span<byte> marker = [0xFF];
        _hash.AppendData(marker);
    }

    public void AddString(string? value)
    {
        if (value is null)
        {
            AddNull();
            return;
        }

        AddBytes(Encoding.UTF8.GetBytes(value));
    }

    public void AddInt64(long value)
    {
        Span<byte> bytes = stackalloc byte[8];
        BinaryPrimitives.WriteInt64BigEndian(bytes, value);
        AddBytes(bytes);
    }

    public void AddBytes(ReadOnlySpan<byte> value)
    {
        Span<byte> header = stackalloc byte[5];
        header[0] = 0;
        BinaryPrimitives.WriteInt32BigEndian(header[1..], value.Length);
        _hash.AppendData(header);
        _hash.AppendData(value);
    }

    public void EndRow() => Rows++;

    public string Finish() => Convert.ToHexStringLower(_hash.GetHashAndReset());

    public void Dispose() => _hash.Dispose();
}
