using System;
using System.Collections.Generic;
using System.Net;
using System.Net.Http;
using System.Net.Http.Json;
using System.Text.Json;
using System.Threading.Tasks;

namespace ScaleOps.Demo;

/// <summary>Drives the sample host over HTTP and prints, step by step, what each package did. Any surprise fails the walk.</summary>
internal sealed partial class Walkthrough(HttpClient http, string adminKey)
{
    private readonly List<string> _failures = [];
    private int _step;

    private readonly System.Diagnostics.Stopwatch _clock = System.Diagnostics.Stopwatch.StartNew();

    public int Failures => _failures.Count;

    /// <summary>The steps checked so far.</summary>
    public int Steps => _step;

    /// <summary>How long the walk has run.</summary>
    public TimeSpan Elapsed => _clock.Elapsed;

    public void Section(string title) => Console.WriteLine($"\n== {title}");

    public void Say(string line) => Console.WriteLine($"   {line}");

    public void Check(bool ok, string what)
    {
        _step++;
        Console.WriteLine($"{(ok ? " ok " : "FAIL")} {_step,2}. {what}");
        if (!ok)
        {
            _failures.Add(what);
        }
    }

    public HttpRequestMessage Request(HttpMethod method, string path, string? tenant = null, object? json = null, bool admin = false)
    {
        var request = new HttpRequestMessage(method, path);
        if (tenant is not null)
        {
            request.Headers.Add("X-Tenant-Id", tenant);
        }

        if (admin)
        {
            request.Headers.Add("X-Admin-Key", adminKey);
        }

        if (json is not null)
        {
            request.Content = JsonContent.Create(json);
        }

        return request;
    }

    public async Task<(HttpStatusCode Status, JsonElement Body, HttpResponseMessage Response)> SendAsync(HttpRequestMessage request)
    {
        var response = await http.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        var body = text.Length > 0 && (response.Content.Headers.ContentType?.MediaType?.Contains("json", StringComparison.Ordinal) ?? false)
            ? JsonDocument.Parse(text).RootElement.Clone()
            : JsonSerializer.SerializeToElement(text);
        return (response.StatusCode, body, response);
    }

    public void PrintFailures()
    {
        foreach (var failure in _failures)
        {
            Console.WriteLine($"   failed: {failure}");
        }
    }
}
