using System;
using ScaleOps.Caching.Internal.Backplane;
using ScaleOps.Caching.Internal.L2;
using ScaleOps.Caching.Serialization;

namespace ScaleOps.Caching.Tests.Internal;

public class PayloadTests
{
    [Fact]
    public void A_payload_round_trips_header_tags_and_value()
    {
        var writer = new PayloadWriter();
        Payload.WriteTags(writer, ["docs", "ünïcode", ""]);
        new SystemTextJsonCacheSerializer().Serialize(new[] { 1, 2, 3 }, writer);
        Payload.WriteHeader(writer.Header, isNull: false, hasTags: true, freshUntilUnixMs: 1234567890123);

        Assert.True(Payload.TryRead(writer.WrittenMemory.Span, out var isNull, out var freshUntil, out var localMs, out var tags, out var body));
        Assert.Equal(Payload.NoLocalExpiration, localMs);
        Assert.False(isNull);
        Assert.Equal(1234567890123, freshUntil);
        Assert.Equal(["docs", "ünïcode", ""], tags!);
        Assert.Equal([1, 2, 3], new SystemTextJsonCacheSerializer().Deserialize<int[]>(body));
    }

    [Fact]
    public void A_payload_with_a_memory_lifetime_round_trips_it_in_a_version_2_header()
    {
        var writer = new PayloadWriter(Payload.LocalHeaderSize);
        Payload.WriteTags(writer, ["docs"]);
        new SystemTextJsonCacheSerializer().Serialize("v", writer);
        Payload.WriteHeader(writer.Header, isNull: false, hasTags: true, freshUntilUnixMs: 1234567890123, localMs: 1500);

        Assert.Equal(2, writer.WrittenMemory.Span[0]);
        Assert.True(Payload.TryRead(writer.WrittenMemory.Span, out _, out var freshUntil, out var localMs, out var tags, out var body));
        Assert.Equal((1234567890123, 1500, "docs"), (freshUntil, localMs, tags![0]));
        Assert.Equal("v", new SystemTextJsonCacheSerializer().Deserialize<string>(body));
        Assert.False(Payload.TryRead(writer.WrittenMemory.Span[..16], out _, out _, out _, out _, out _)); // a truncated version 2 header
    }

    [Theory]
    [InlineData(new byte[0])]
    [InlineData(new byte[] { 9, 0, 0, 0, 0, 0, 0, 0, 0, 0 })]
    [InlineData(new byte[] { 1, 2, 0, 0, 0, 0, 0, 0, 0, 0, 5, 0, 0, 0 })]
    [InlineData(new byte[] { (byte)'{', (byte)'"', (byte)'a', (byte)'"' })]
    public void Foreign_or_truncated_bytes_are_rejected(byte[] data) =>
        Assert.False(Payload.TryRead(data, out _, out _, out _, out _, out _));

    [Fact]
    public void A_backplane_message_round_trips_even_with_separators_in_the_key()
    {
        var message = new BackplaneMessage("instance", BackplaneMessage.Key, 42, "tenant|x", "key\nwith\nlines");
        Assert.True(BackplaneMessage.TryParse(message.Format(), out var parsed));
        Assert.Equal(message, parsed);
        Assert.False(BackplaneMessage.TryParse("2\nnope", out _));
        Assert.False(BackplaneMessage.TryParse("1\na\nK\nnot-a-number\nt\nk", out _));
    }
}
