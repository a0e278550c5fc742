using System;
using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;

namespace ScaleOps.Partitioning.Internal;

/// <summary>SHA-256 over rows of text values: each value is a null marker, or its length and UTF-8 bytes.</summary>
internal sealed class RowChecksum : IDisposable
{
    private readonly IncrementalHash _hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);

    public long Rows { get; private set; }

    public void AddRow(string?[] values)
    {
        Span<byte> header = stackalloc byte[5];
        foreach (var value in values)
        {
            if (value is null)
            {
                header[0] = 0xFF;
                _hash.AppendData(header[..1]);
                continue;
            }

            var bytes = Encoding.UTF8.GetBytes(value);
            header[0] = 0;
            BinaryPrimitives.WriteInt32BigEndian(header[1..], bytes.Length);
            _hash.AppendData(header);
            _hash.AppendData(bytes);
        }

        Rows++;
    }

    public string Finish() => Convert.ToHexStringLower(_hash.GetHashAndReset());

    public void Dispose() => _hash.Dispose();
}
