using System.Threading.Tasks;
using Microsoft.AspNetCore.Http;
using ScaleOps.SampleHost.Http;
using ScaleOps.Tenancy;

namespace ScaleOps.SampleHost.Tenancy;

/// <summary>
/// Resolves the tenant of a request from the <c>X-Tenant-Id</c> header (a real service takes it from a validated token
/// claim instead) and runs the endpoint inside that tenant's ambient scope. Missing or malformed: 400; well-formed but
/// not registered: 403.
/// </summary>
public sealed class TenantFilter(TenantDirectory directory, ITenantContext tenants) : IEndpointFilter
{
    public const string TenantItem = "sample.tenant";

    public async ValueTask<object?> InvokeAsync(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        var http = context.HttpContext;
        var values = http.Request.Headers[TenantSlug.Header];
        if (values.Count == 0)
        {
            return Problems.BadRequest($"The {TenantSlug.Header} header is required.");
        }

        var id = values.Count == 1 ? values[0] : null;
        if (!TenantSlug.IsValid(id))
        {
            return Problems.BadRequest($"The {TenantSlug.Header} header must be 1 to 63 lowercase letters, digits and dashes.");
        }

        var tenant = await directory.FindAsync(id!, http.RequestAborted);
        if (tenant is null)
        {
            return Problems.Forbidden($"Tenant '{id}' is not registered.");
        }

        http.Items[TenantItem] = tenant;
        using var scope = tenants.BeginScope(new TenantId(tenant.Id));
        return await next(context);
    }
}
