using System.Linq;
using System.Threading.Tasks;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Options;
using ScaleOps.SampleHost.Http;
using ScaleOps.SampleHost.Limits;
using ScaleOps.Tenancy;

namespace ScaleOps.SampleHost.Tenancy;

/// <summary>
/// Resolves the tenant of a request from the <c>X-Tenant-Id</c> header (a real service takes it from a validated token
/// claim instead) and runs the endpoint inside that tenant's ambient scope. Missing or malformed: 400; well-formed but
/// not registered, or on a plan this host does not configure: 403; from an address that has sent too many unregistered ids this minute: 429, before any lookup
/// (<see cref="ClientLimits.UnknownTenants"/>). Every tenant endpoint runs this filter before any other work, and every
/// answer it gives or lets through carries <c>Cache-Control: no-store</c>.
/// </summary>
public sealed class TenantFilter(TenantDirectory directory, ITenantContext tenants, ClientLimits limits, IOptions<SampleOptions> options)
    : IEndpointFilter
{
    public const string TenantItem = "sample.tenant";

    public async ValueTask<object?> InvokeAsync(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        var http = context.HttpContext;
        // Every answer of a tenant endpoint, refusals included, is about one tenant: no browser or shared proxy may store
        // it. None knows X-Tenant-Id for a credential (as it knows Authorization), so a stored 200 or 404 would be served
        // to the next request for the URL, another tenant's. On starting, so the exception handler's clearing keeps it.
        http.Response.OnStarting(static state =>
        {
            ((HttpResponse)state).Headers.CacheControl = "no-store";
            return Task.CompletedTask;
        }, http.Response);
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

        // Each unregistered id costs a lookup: an address has a budget of them per minute, spent before the lookup (a
        // registered tenant gives its unit back), so a flood of made-up ids is refused here without touching the registry.
        var attempt = limits.UnknownTenants.Begin(ClientLimits.ClientOf(http));
        if (!attempt.Allowed)
        {
            return ClientLimits.TooMany(http, attempt, $"unregistered {TenantSlug.Header} values");
        }

        TenantRecord? tenant;
        try
        {
            tenant = await directory.FindAsync(id!, http.RequestAborted);
        }
        catch
        {
            attempt.Succeeded(); // the registry failed, not the client
            throw;
        }

        if (tenant is null)
        {
            return Problems.Forbidden($"Tenant '{id}' is not registered.");
        }

        attempt.Succeeded();

        // A plan this host does not configure (removed from Sample:Plans, or written by another system) has no rate limit
        // or quota: the limiter would throw on every request (a 500). Say what is wrong and how to fix it instead.
        if (!options.Value.Plans.ContainsKey(tenant.Plan))
        {
            return Problems.Forbidden(
                $"Tenant '{tenant.Id}' has the plan '{tenant.Plan}', which this host does not configure (Sample:Plans). An operator must add "
                + $"Sample:Plans:{tenant.Plan} or move the tenant to one of: {string.Join(", ", options.Value.Plans.Keys.Order(System.StringComparer.Ordinal))} "
                + $"(PUT /tenants/{tenant.Id}/plan).");
        }

        http.Items[TenantItem] = tenant;
        using var scope = tenants.BeginScope(new TenantId(tenant.Id));
        return await next(context);
    }
}
