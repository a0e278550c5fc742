using System.Security.Cryptography;
using System.Text;
using System.Threading.Tasks;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;
using ScaleOps.SampleHost.Http;
using ScaleOps.SampleHost.Limits;

namespace ScaleOps.SampleHost.Admin;

/// <summary>
/// Admin and <c>/ops/*</c> endpoints require <c>X-Admin-Key</c> equal to the configured key (401 otherwise). Wrong keys
/// are counted per client address (<see cref="ClientLimits.AdminKey"/>): past the budget the address gets 429 until its
/// minute is over, whatever key it sends.
/// </summary>
public sealed class AdminKeyFilter(IOptions<SampleOptions> options, ClientLimits limits) : IEndpointFilter
{
    public const string Header = "X-Admin-Key";

    public ValueTask<object?> InvokeAsync(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        if (Refusal(context.HttpContext, options.Value, limits) is not { } refusal)
        {
            return next(context);
        }

        if (refusal.StatusCode == StatusCodes.Status401Unauthorized)
        {
            // RFC 9110 11.6.1: a 401 names the scheme it wants. The header's own name, not Basic (a browser would ask
            // for a user name and password).
            context.HttpContext.Response.Headers.WWWAuthenticate = $"{Header} realm=\"operations\"";
        }

        return ValueTask.FromResult<object?>(refusal);
    }

    /// <summary>
    /// Null when the request carries the admin key; otherwise the answer: 429 while the client's budget of wrong keys is
    /// spent (the key is not even compared then), else 401. A wrong key uses up one unit of the budget; a missing header
    /// is no guess and does not.
    /// </summary>
    public static ProblemHttpResult? Refusal(HttpContext http, SampleOptions options, ClientLimits limits)
    {
        System.ArgumentNullException.ThrowIfNull(http);
        System.ArgumentNullException.ThrowIfNull(limits);
        var attempt = limits.AdminKey.Begin(ClientLimits.ClientOf(http));
        if (!attempt.Allowed)
        {
            return ClientLimits.TooMany(http, attempt, $"wrong {Header} values");
        }

        if (IsAdmin(http.Request, options))
        {
            attempt.Succeeded();
            return null;
        }

        if (!http.Request.Headers.ContainsKey(Header))
        {
            attempt.Succeeded();
        }

        return Problems.Unauthorized($"The {Header} header is missing or wrong.");
    }

    /// <summary>
    /// Whether the request carries the configured admin key. Both are hashed first, so the comparison takes the same time
    /// whatever the length of the guess. An empty or blank configured key admits nobody (start-up validation refuses it
    /// too, but this check does not rely on it).
    /// </summary>
    public static bool IsAdmin(HttpRequest request, SampleOptions options)
    {
        System.ArgumentNullException.ThrowIfNull(request);
        System.ArgumentNullException.ThrowIfNull(options);
        if (string.IsNullOrWhiteSpace(options.AdminKey))
        {
            return false;
        }

        var given = request.Headers[Header];
        return given.Count == 1
            && CryptographicOperations.FixedTimeEquals(
                SHA256.HashData(Encoding.UTF8.GetBytes(given[0] ?? "")), SHA256.HashData(Encoding.UTF8.GetBytes(options.AdminKey)));
    }
}
