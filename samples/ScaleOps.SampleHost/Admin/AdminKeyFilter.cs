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

    /// <summary>Whether the request carries the configured admin key (compared in constant time).</summary>
    public static bool IsAdmin(HttpRequest request, SampleOptions options)
    {
        System.ArgumentNullException.ThrowIfNull(request);
        System.ArgumentNullException.ThrowIfNull(options);
        var given = request.Headers[Header];
        return given.Count == 1
            && CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(given[0] ?? ""), Encoding.UTF8.GetBytes(options.AdminKey));
    }
}
