using System.Collections.Generic;
using Microsoft.Extensions.DependencyInjection;

namespace ScaleOps.Internal;

/// <summary>The one builder instance per service collection; also remembers which configuration sections are claimed.</summary>
internal sealed class ScaleOpsBuilder(IServiceCollection services) : IScaleOpsBuilder
{
    public IServiceCollection Services { get; } = services;

    /// <summary>Child sections of <c>ScaleOps</c> claimed by packages (for example <c>Jobs</c>).</summary>
    public HashSet<string> Sections { get; } = new(System.StringComparer.OrdinalIgnoreCase);
}
