using System.Security.Cryptography;
using System.Text;
using System.Threading.Tasks;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Options;
using ScaleOps.SampleHost.Http;

namespace ScaleOps.SampleHost.Admin;

/// <summary>Admin and <c>/ops/*</c> endpoints require <c>X-Admin-Key</c> equal to the configured key (401 otherwise).</summary>
public sealed class AdminKeyFilter(IOptions<SampleOptions> options) : IEndpointFilter
{
    public const string Header = "X-Admin-Key";

    public ValueTask<object?> InvokeAsync(EndpointFilterInvocationContext context, EndpointFilterDelegate next) =>
        IsAdmin(context.HttpContext.Request, options.Value)
            ? next(context)
            : ValueTask.FromResult<object?>(Problems.Unauthorized($"The {Header} header is missing or wrong."));

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
