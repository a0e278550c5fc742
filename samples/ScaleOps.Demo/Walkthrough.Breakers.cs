using System;
using System.Diagnostics;
using System.Linq;
using System.Net;
using System.Net.Http;
using System.Text.Json;
using System.Threading.Tasks;

namespace ScaleOps.Demo;

internal sealed partial class Walkthrough
{
    /// <summary>What <see cref="DriveUntilAsync"/> saw.</summary>
    public sealed record DriveResult(bool Reached, string State, int Sent, int Answered);

    /// <summary>A breaker's state from <c>GET /ops/circuits</c> ("?" when the call fails).</summary>
    public async Task<(string State, HttpStatusCode Status)> BreakerAsync(string name)
    {
        try
        {
            var (status, body, response) = await SendAsync(Request(HttpMethod.Get, "/ops/circuits", admin: true));
            response.Dispose();
            var state = status == HttpStatusCode.OK
                ? body.GetProperty("circuits").EnumerateArray().Where(c => c.GetProperty("name").GetString() == name)
                    .Select(c => c.GetProperty("state").GetString()).FirstOrDefault() ?? "(no such breaker)"
                : "?";
            return (state, status);
        }
        catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException or JsonException)
        {
            return ("?", 0);
        }
    }

    /// <summary>
    /// Sends tenant requests in small rounds (a breaker changes state only when calls go through it) until the breaker
    /// is in <paramref name="target"/> and, when <paramref name="healthy"/> is set, <c>/ops/health</c> says Healthy;
    /// gives up after <paramref name="limit"/>.
    /// </summary>
    public async Task<DriveResult> DriveUntilAsync(string tenant, string breaker, string target, bool? healthy, TimeSpan limit)
    {
        var clock = Stopwatch.StartNew();
        int sent = 0, answered = 0;
        var state = "?";
        while (clock.Elapsed < limit)
        {
            var round = await Task.WhenAll(Enumerable.Range(0, 5).Select(async _ =>
            {
                try
                {
                    var (status, _, response) = await SendAsync(Request(HttpMethod.Get, "/documents?limit=1", tenant: tenant));
                    response.Dispose();
                    return status;
                }
                catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException)
                {
                    return (HttpStatusCode)0;
                }
            }));
            sent += round.Length;
            answered += round.Count(s => s == HttpStatusCode.OK);
            (state, _) = await BreakerAsync(breaker);
            if (state == target && (healthy is null || await IsHealthyAsync()))
            {
                return new DriveResult(true, state, sent, answered);
            }

            await Task.Delay(200);
        }

        return new DriveResult(false, $"{state} (still, after {limit.TotalSeconds:0} s)", sent, answered);
    }

    private async Task<bool> IsHealthyAsync()
    {
        var (status, body, response) = await SendAsync(Request(HttpMethod.Get, "/ops/health"));
        response.Dispose();
        return status == HttpStatusCode.OK && body.ValueKind == JsonValueKind.Object
            && body.TryGetProperty("status", out var overall) && overall.GetString() == "Healthy";
    }
}
