using Microsoft.Extensions.DependencyInjection;

namespace ScaleOps;

/// <summary>
/// The builder returned by <c>services.AddScaleOps(...)</c>. Each ScaleOps package adds its own extension
/// method on this interface (<c>AddRls</c>, <c>AddJobs</c>, <c>AddPartitioning</c>, <c>AddCaching</c>,
/// <c>AddResilience</c>), so the core never references a package.
/// </summary>
public interface IScaleOpsBuilder
{
    /// <summary>The service collection the packages register into.</summary>
    IServiceCollection Services { get; }
}
