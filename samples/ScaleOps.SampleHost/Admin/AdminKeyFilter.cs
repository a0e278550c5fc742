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

    public ValueTask<object?> InvokeAsync(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        var given = context.HttpContext.Request.Headers[Header];
        var expected = Encoding.UTF8.GetBytes(options.Value.AdminKey);
        if (given.Count != 1 || !CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(given[0] ?? ""), expected))
        {
            return ValueTask.FromResult<object?>(Problems.Unauthorized($"The {Header} header is missing or wrong."));
        }

        return next(context);
    }
}
