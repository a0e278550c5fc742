using System;
using System.Diagnostics;
using System.Net;
using System.Net.Http;
using System.Threading.Tasks;

namespace ScaleOps.Demo;

internal sealed partial class Walkthrough
{
    /// <summary>What <see cref="PollCountAsync"/> saw.</summary>
    public sealed record CountPoll(DateTimeOffset? CountedAgainAt, int Reads, int Misses, TimeSpan Elapsed);

    /// <summary>
    /// Reads <c>GET /documents/stats</c> every 200 ms until its <c>countedAt</c> is no longer <paramref name="countedAt"/>
    /// (the count was taken again) or <paramref name="limit"/> has passed, counting the reads that were not cache hits.
    /// With eager refresh, a read after the due point answers from the cache and the count is taken again in the
    /// background: every read is a hit. Without it, the new count would come with a miss once the first one expired.
    /// </summary>
    public async Task<CountPoll> PollCountAsync(string tenant, DateTimeOffset countedAt, TimeSpan limit)
    {
        var clock = Stopwatch.StartNew();
        int reads = 0, misses = 0;
        while (clock.Elapsed < limit)
        {
            await Task.Delay(200);
            var (status, body, response) = await SendAsync(Request(HttpMethod.Get, "/documents/stats", tenant: tenant));
            reads++;
            var hit = response.Headers.TryGetValues("X-Cache", out var values) && string.Join(",", values) == "hit";
            response.Dispose();
            if (status != HttpStatusCode.OK || !hit)
            {
                misses++;
            }

            if (status == HttpStatusCode.OK && body.GetProperty("countedAt").GetDateTimeOffset() is var at && at != countedAt)
            {
                return new CountPoll(at, reads, misses, clock.Elapsed);
            }
        }

        return new CountPoll(null, reads, misses, clock.Elapsed);
    }
}
