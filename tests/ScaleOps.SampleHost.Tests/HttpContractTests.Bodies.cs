using System;
using System.IO;
using System.Net;
using System.Net.Http;
using System.Net.Http.Headers;
using System.Threading.Tasks;

namespace ScaleOps.SampleHost.Tests;

/// <summary>Request bodies over the limit: a 413 problem the client gets to read, whatever the size and framing.</summary>
public partial class HttpContractTests
{
    /// <summary>A JSON document of <paramref name="size"/> bytes, written in pieces; chunked unless its length is announced.</summary>
    private sealed class LargeJson(long size, bool announceLength) : HttpContent
    {
        protected override async Task SerializeToStreamAsync(Stream stream, TransportContext? context)
        {
            var head = "{\"title\":\""u8.ToArray();
            var tail = "\"}"u8.ToArray();
            await stream.WriteAsync(head);
            var piece = new byte[64 * 1024];
            Array.Fill(piece, (byte)'x');
            for (var left = size - head.Length - tail.Length; left > 0; left -= piece.Length)
            {
                await stream.WriteAsync(piece.AsMemory(0, (int)Math.Min(piece.Length, left)));
            }

            await stream.WriteAsync(tail);
        }

        protected override bool TryComputeLength(out long length)
        {
            length = size;
            return announceLength;
        }
    }

    private async Task<HttpResponseMessage> SendLargeAsync(string method, string path, long size, bool announceLength, bool expectContinue = false)
    {
        using var client = host.Http();
        using var request = new HttpRequestMessage(new HttpMethod(method), path) { Content = new LargeJson(size, announceLength) };
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        request.Headers.ExpectContinue = expectContinue;
        return await client.SendAsync(request);
    }

    [Theory]
    [MemberData(nameof(HttpContractFixture.JsonBodyEndpoints), MemberType = typeof(HttpContractFixture))]
    public async Task A_chunked_body_over_the_limit_is_a_413_problem_the_client_reads(string method, string path)
    {
        foreach (var size in new long[] { 600 * 1024, 4 * 1024 * 1024, 20 * 1024 * 1024 })
        {
            using var response = await SendLargeAsync(method, path, size, announceLength: false);
            var body = await ProblemAssert.IsProblemAsync(response, HttpStatusCode.RequestEntityTooLarge);
            Assert.Contains("524288", body.GetProperty("detail").GetString(), StringComparison.Ordinal);
        }
    }

    [Theory]
    [MemberData(nameof(HttpContractFixture.JsonBodyEndpoints), MemberType = typeof(HttpContractFixture))]
    public async Task A_body_announced_over_the_limit_is_a_413_problem_the_client_reads(string method, string path)
    {
        foreach (var size in new long[] { 600 * 1024, 4 * 1024 * 1024, 20 * 1024 * 1024 })
        {
            using var response = await SendLargeAsync(method, path, size, announceLength: true);
            await ProblemAssert.IsProblemAsync(response, HttpStatusCode.RequestEntityTooLarge);
        }
    }

    [Theory]
    [MemberData(nameof(HttpContractFixture.JsonBodyEndpoints), MemberType = typeof(HttpContractFixture))]
    public async Task A_client_that_asks_100_continue_gets_the_413_before_sending_any_size_of_body(string method, string path)
    {
        using var response = await SendLargeAsync(method, path, 200L * 1024 * 1024, announceLength: true, expectContinue: true);
        await ProblemAssert.IsProblemAsync(response, HttpStatusCode.RequestEntityTooLarge);
    }
}
