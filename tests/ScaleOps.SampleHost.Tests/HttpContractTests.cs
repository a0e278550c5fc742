using System;
using System.Net;
using System.Net.Http;
using System.Net.Http.Headers;
using System.Text;
using System.Threading.Tasks;

namespace ScaleOps.SampleHost.Tests;

/// <summary>The HTTP contract every endpoint group keeps: request bodies, methods, routes and error bodies.</summary>
public partial class HttpContractTests(HttpContractFixture host) : IClassFixture<HttpContractFixture>
{
    private const string SomeJson = "{\"title\":\"t\",\"body\":\"b\",\"id\":\"x\",\"plan\":\"pro\",\"tenant\":\"x\",\"count\":1}";

    private async Task<HttpResponseMessage> SendAsync(string method, string path, HttpContent? content = null)
    {
        using var client = host.Http();
        using var request = new HttpRequestMessage(new HttpMethod(method), path) { Content = content };
        return await client.SendAsync(request);
    }

    [Theory]
    [MemberData(nameof(HttpContractFixture.JsonBodyEndpoints), MemberType = typeof(HttpContractFixture))]
    public async Task A_JSON_body_sent_as_another_media_type_or_none_is_a_415_naming_application_json(string method, string path)
    {
        foreach (var type in new[] { "text/plain", "application/x-www-form-urlencoded", "application/xml", null })
        {
            var content = new ByteArrayContent(Encoding.UTF8.GetBytes(SomeJson));
            content.Headers.ContentType = type is null ? null : new MediaTypeHeaderValue(type);
            using var response = await SendAsync(method, path, content);
            var body = await ProblemAssert.IsProblemAsync(response, HttpStatusCode.UnsupportedMediaType);
            Assert.Contains("application/json", body.GetProperty("detail").GetString(), StringComparison.Ordinal);
        }
    }

    [Theory]
    [MemberData(nameof(HttpContractFixture.JsonBodyEndpoints), MemberType = typeof(HttpContractFixture))]
    public async Task A_compressed_body_is_a_415_saying_the_content_coding_is_not_supported(string method, string path)
    {
        foreach (var coding in new[] { "gzip", "br", "deflate" })
        {
            var content = new StringContent(SomeJson, Encoding.UTF8, "application/json");
            content.Headers.ContentEncoding.Add(coding);
            using var response = await SendAsync(method, path, content);
            var body = await ProblemAssert.IsProblemAsync(response, HttpStatusCode.UnsupportedMediaType);
            Assert.Contains("Content-Encoding", body.GetProperty("detail").GetString(), StringComparison.Ordinal);
        }
    }

    /// <summary>A JSON body sent chunked (no Content-Length), as a streaming client sends it.</summary>
    private sealed class ChunkedJson : HttpContent
    {
        private readonly string _json;

        public ChunkedJson(string json)
        {
            _json = json;
            Headers.ContentType = new MediaTypeHeaderValue("application/json");
        }

        protected override Task SerializeToStreamAsync(System.IO.Stream stream, TransportContext? context) =>
            stream.WriteAsync(Encoding.UTF8.GetBytes(_json)).AsTask();

        protected override bool TryComputeLength(out long length)
        {
            length = 0;
            return false;
        }
    }

    [Theory]
    [MemberData(nameof(HttpContractFixture.JsonBodyEndpoints), MemberType = typeof(HttpContractFixture))]
    public async Task A_missing_or_empty_body_is_a_400_that_says_the_body_is_required(string method, string path)
    {
        foreach (var content in new HttpContent?[]
                 {
                     null,
                     new StringContent("", Encoding.UTF8, "application/json"),
                     new ByteArrayContent([]),
                     new ChunkedJson(""),
                     new ChunkedJson("  \r\n "),
                 })
        {
            using var response = await SendAsync(method, path, content);
            var body = await ProblemAssert.IsProblemAsync(response, HttpStatusCode.BadRequest);
            Assert.Contains("request body is required", body.GetProperty("detail").GetString(), StringComparison.Ordinal);
        }
    }
}
