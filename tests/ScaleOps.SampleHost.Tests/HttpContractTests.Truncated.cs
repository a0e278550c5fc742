using System;
using System.IO;
using System.Threading;
using System.Threading.Tasks;
using Microsoft.AspNetCore.Http;
using ScaleOps.SampleHost.Documents;
using ScaleOps.SampleHost.Http;

namespace ScaleOps.SampleHost.Tests;

/// <summary>
/// A body the server stops reading (it ended before its Content-Length, or came too slowly): the client's error, answered
/// with the server's status as a problem, not left to the exception handler as a 500 logged as the host's failure.
/// Called directly: on a real socket Kestrel has already closed the connection, so only the host's handling shows.
/// </summary>
public partial class HttpContractTests
{
    private sealed class FailingBody(Exception error) : Stream
    {
        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => false;

        public override long Length => throw new NotSupportedException();

        public override long Position { get => 0; set => throw new NotSupportedException(); }

        public override int Read(byte[] buffer, int offset, int count) => throw error;

        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) => ValueTask.FromException<int>(error);

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }

    [Theory]
    [InlineData("Unexpected end of request content.", StatusCodes.Status400BadRequest)]
    [InlineData("Reading the request body timed out due to data arriving too slowly. See MinRequestBodyDataRate.", StatusCodes.Status408RequestTimeout)]
    public async Task A_body_the_server_stops_reading_is_a_problem_with_the_servers_status(string message, int status)
    {
        var context = new DefaultHttpContext();
        context.Request.ContentType = "application/json";
        context.Request.ContentLength = 100;
        context.Request.Body = new FailingBody(new BadHttpRequestException(message, status));

        var (value, problem) = await JsonBody.ReadAsync<DocumentInput>(context.Request);

        Assert.Null(value);
        Assert.Equal(status, Assert.IsAssignableFrom<IStatusCodeHttpResult>(problem).StatusCode);
    }
}
