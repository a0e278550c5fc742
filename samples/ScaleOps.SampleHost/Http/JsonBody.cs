using System;
using System.Linq;
using System.Text.Json;
using System.Threading.Tasks;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;

namespace ScaleOps.SampleHost.Http;

/// <summary>
/// Reads a JSON request body with explicit limits, so bad input is a problem, never a 500: no body 400, another media type
/// or a content coding 415, too large 413, not readable as the endpoint's JSON 400 (where and why), ended early 400 or
/// too slow 408.
/// </summary>
public static class JsonBody
{
    /// <summary>The largest request body the sample reads (a 64 KiB document body plus JSON escaping).</summary>
    public const int MaxBytes = 512 * 1024;

    /// <summary>
    /// Strict: a field named twice (in any case, the names being case-insensitive) is a 400, never "the last one wins",
    /// since a proxy or an audit that reads the first would see another request than the one carried out.
    /// </summary>
    private static readonly JsonSerializerOptions Options = new(JsonSerializerDefaults.Web) { AllowTrailingCommas = false, AllowDuplicateProperties = false };

    public static async Task<(T? Value, IResult? Problem)> ReadAsync<T>(HttpRequest request)
        where T : class
    {
        ArgumentNullException.ThrowIfNull(request);
        if (request.ContentLength > MaxBytes)
        {
            return (null, Problems.TooLarge($"The request body is {request.ContentLength} bytes; the limit is {MaxBytes}."));
        }

        if (!HasBody(request))
        {
            return (null, BodyRequired());
        }

        // No content coding is decoded here: a gzip body would be read as JSON (and an uncompressed one labelled gzip
        // accepted), so a coded body is refused for what it is (RFC 9110 15.5.16).
        if (request.Headers.ContentEncoding.Any(c => !string.Equals(c?.Trim(), "identity", StringComparison.OrdinalIgnoreCase)))
        {
            return (null, Problems.UnsupportedMediaType("Content-Encoding is not supported: send the body uncompressed."));
        }

        if (!request.HasJsonContentType())
        {
            return (null, Problems.UnsupportedMediaType("The request body must be JSON, sent with Content-Type: application/json."));
        }

        // A chunked body has no Content-Length: the counting stream stops reading once it passes MaxBytes. The server's
        // own limit is left as it is on purpose: after the 413, Kestrel reads and discards the rest of the body (up to
        // that limit, 30 MB by default), so a client that sends the whole body before reading the answer gets the 413.
        // Lowered to MaxBytes, the server would close the connection instead and the client would see it reset.
        try
        {
            await using var body = new LimitedStream(request.Body, MaxBytes);
            var value = await JsonSerializer.DeserializeAsync<T>(body, Options, request.HttpContext.RequestAborted);
            return value is null ? (null, Problems.BadRequest("The request body is empty or null.")) : (value, null);
        }
        catch (JsonException ex) when (IsEmpty(ex))
        {
            // A chunked body of no bytes (or only white space): there was no length to tell before reading.
            return (null, BodyRequired());
        }
        catch (JsonException ex)
        {
            // The exception's message names .NET types (ScaleOps.SampleHost.Documents.DocumentInput): the client gets where
            // the body went wrong, and why in words of JSON only.
            return (null, Problems.BadRequest($"The request body is not valid JSON for this endpoint at {ex.Path ?? "$"} "
                + $"(line {ex.LineNumber + 1}, byte {ex.BytePositionInLine + 1}): {Reason(ex)}."));
        }
        catch (BadHttpRequestException ex) when (ex.StatusCode == StatusCodes.Status413PayloadTooLarge)
        {
            return (null, Problems.TooLarge($"The request body is over the limit of {MaxBytes} bytes."));
        }
        catch (BadHttpRequestException ex)
        {
            // The server stopped reading: the body ended before its Content-Length (400), or came too slowly (408). The
            // client's error, not the host's: answered with the server's status, not logged as an unhandled exception.
            return (null, Problems.BodyUnreadable(ex.StatusCode, "The request body could not be read to its end: it ended early or came too slowly."));
        }
    }

    private static IResult BodyRequired() =>
        Problems.BadRequest("A request body is required: JSON, sent with Content-Type: application/json.");

    private static bool IsEmpty(JsonException ex) => ex.Message.Contains("does not contain any JSON tokens", StringComparison.Ordinal);

    /// <summary>
    /// Whether the request has a body: none with <c>Content-Length: 0</c>, nor on HTTP/1.1 without a length or chunked
    /// transfer coding (the server's body detection). A chunked body of no bytes is found empty when it is read.
    /// </summary>
    private static bool HasBody(HttpRequest request) =>
        request.ContentLength != 0 && request.HttpContext.Features.Get<IHttpRequestBodyDetectionFeature>() is not { CanHaveBody: false };

    /// <summary>Reads through to the request body and fails with a 413 once more than the limit has come in.</summary>
    private sealed class LimitedStream(System.IO.Stream inner, long limit) : System.IO.Stream
    {
        private long _read;

        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => false;

        public override long Length => throw new NotSupportedException();

        public override long Position { get => _read; set => throw new NotSupportedException(); }

        public override int Read(byte[] buffer, int offset, int count) => Count(inner.Read(buffer, offset, count));

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, System.Threading.CancellationToken cancellationToken = default) =>
            Count(await inner.ReadAsync(buffer, cancellationToken));

        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, System.Threading.CancellationToken cancellationToken) =>
            ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        public override void Flush()
        {
        }

        public override long Seek(long offset, System.IO.SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        private int Count(int read)
        {
            _read += read;
            return _read > limit ? throw new BadHttpRequestException("The request body is too large.", StatusCodes.Status413PayloadTooLarge) : read;
        }
    }

    /// <summary>Why a body was refused, without the .NET type names the serializer's message carries.</summary>
    private static string Reason(JsonException ex) => ex.Message switch
    {
        var m when m.Contains("Duplicate", StringComparison.OrdinalIgnoreCase) => "a field is named twice",
        var m when m.Contains("could not be converted", StringComparison.Ordinal) => "a value has the wrong JSON type",
        var m when m.Contains("missing required properties", StringComparison.Ordinal) => "a required field is missing",
        _ => "malformed JSON or a value of the wrong type",
    };
}
