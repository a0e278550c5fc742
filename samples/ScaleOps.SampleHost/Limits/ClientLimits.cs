using System;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;
using ScaleOps.SampleHost.Http;

namespace ScaleOps.SampleHost.Limits;

/// <summary>
/// Budgets of failures per client address and minute (in memory, per instance): wrong admin keys
/// (<see cref="SampleOptions.AdminKeyFailuresPerMinute"/>) and unregistered tenant ids
/// (<see cref="SampleOptions.UnknownTenantsPerMinute"/>). An address that has spent one is answered 429 with
/// <c>Retry-After</c> on the endpoints behind that check until its minute is over.
/// </summary>
public sealed class ClientLimits(IOptions<SampleOptions> options, TimeProvider time)
{
    /// <summary>The window of both budgets.</summary>
    public static readonly TimeSpan Window = TimeSpan.FromMinutes(1);

    /// <summary>Wrong <c>X-Admin-Key</c> values.</summary>
    public FailureLimiter AdminKey { get; } = new(options.Value.AdminKeyFailuresPerMinute, Window, time);

    /// <summary>Well-formed <c>X-Tenant-Id</c> values that are not registered (each costs a registry lookup).</summary>
    public FailureLimiter UnknownTenants { get; } = new(options.Value.UnknownTenantsPerMinute, Window, time);

    /// <summary>
    /// The client's address as the budgets count it: IPv4 as is (an IPv4-mapped IPv6 address as its IPv4 address), IPv6
    /// by its /64 network (one host usually holds a whole /64), and <c>none</c> for a connection without an address (a
    /// Unix socket, the in-memory test server). Behind a reverse proxy every client has the proxy's address unless the
    /// host applies <c>X-Forwarded-For</c> from known proxies first (<c>UseForwardedHeaders</c>).
    /// </summary>
    public static string ClientOf(HttpContext http)
    {
        ArgumentNullException.ThrowIfNull(http);
        var address = http.Connection.RemoteIpAddress;
        if (address is null)
        {
            return "none";
        }

        if (address.IsIPv4MappedToIPv6)
        {
            address = address.MapToIPv4();
        }

        if (address.AddressFamily != AddressFamily.InterNetworkV6)
        {
            return address.ToString();
        }

        var bytes = address.GetAddressBytes();
        Array.Clear(bytes, 8, 8);
        return new IPAddress(bytes) + "/64";
    }

    /// <summary>A 429 problem with <c>Retry-After</c> (whole seconds, at least 1) for a refused attempt.</summary>
    public static ProblemHttpResult TooMany(HttpContext http, FailureLimiter.Attempt refused, string what)
    {
        ArgumentNullException.ThrowIfNull(http);
        var seconds = Math.Max(1, (long)Math.Ceiling(refused.RetryAfter.TotalSeconds)).ToString(CultureInfo.InvariantCulture);
        http.Response.Headers.RetryAfter = seconds;
        return Problems.TooMany($"Too many {what} from this address; retry after {seconds} s.");
    }
}
