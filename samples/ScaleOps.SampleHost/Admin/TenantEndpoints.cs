using System.Collections.Generic;
using System.Threading;
using System.Threading.Tasks;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Options;
using ScaleOps.SampleHost.Http;
using ScaleOps.SampleHost.Tenancy;

namespace ScaleOps.SampleHost.Admin;

public sealed record TenantInput(string? Id, string? Plan);

public sealed record PlanInput(string? Plan);

/// <summary><c>POST /tenants</c> and <c>PUT /tenants/{id}/plan</c>.</summary>
public static class TenantEndpoints
{
    public static IEndpointRouteBuilder MapTenantEndpoints(this IEndpointRouteBuilder routes)
    {
        var admin = routes.MapGroup("/tenants").AddEndpointFilter<AdminKeyFilter>();
        admin.MapPost("", CreateAsync);
        admin.MapPut("/{id}/plan", ChangePlanAsync);
        return routes;
    }

    private static async Task<IResult> CreateAsync(HttpRequest request, TenantDirectory directory, IOptions<SampleOptions> options,
        CancellationToken cancellationToken)
    {
        var (input, problem) = await JsonBody.ReadAsync<TenantInput>(request);
        if (problem is not null)
        {
            return problem;
        }

        if (!TenantSlug.IsValid(input!.Id))
        {
            return Problems.BadRequest("\"id\" must be 1 to 63 lowercase letters, digits and dashes.");
        }

        if (PlanProblem(input.Plan, options.Value) is { } planProblem)
        {
            return planProblem;
        }

        if (!await directory.CreateAsync(input.Id!, input.Plan!, cancellationToken))
        {
            return Problems.Conflict($"Tenant '{input.Id}' already exists.");
        }

        return TypedResults.Created($"/tenants/{input.Id}", new { id = input.Id, plan = input.Plan });
    }

    private static async Task<IResult> ChangePlanAsync(string id, HttpRequest request, TenantDirectory directory,
        IOptions<SampleOptions> options, CancellationToken cancellationToken)
    {
        if (!TenantSlug.IsValid(id))
        {
            return Problems.BadRequest("The tenant id must be 1 to 63 lowercase letters, digits and dashes.");
        }

        var (input, problem) = await JsonBody.ReadAsync<PlanInput>(request);
        if (problem is not null)
        {
            return problem;
        }

        if (PlanProblem(input!.Plan, options.Value) is { } planProblem)
        {
            return planProblem;
        }

        return await directory.ChangePlanAsync(id, input.Plan!, cancellationToken)
            ? TypedResults.Ok(new { id, plan = input.Plan })
            : Problems.NotFound($"Tenant '{id}' is not registered.");
    }

    private static IResult? PlanProblem(string? plan, SampleOptions options) =>
        plan is null || !options.Plans.ContainsKey(plan)
            ? Problems.BadRequest($"\"plan\" must be one of: {string.Join(", ", options.Plans.Keys)}.",
                new Dictionary<string, object?> { ["plans"] = options.Plans.Keys })
            : null;
}
