using System;
using System.Collections.Generic;

namespace ScaleOps.Packaging.Tests;

/// <summary>
/// The architecture's rule, package by package (README, docs/architecture.md): every package references only
/// ScaleOps.Core and its own third-party libraries, never another ScaleOps package; ScaleOps.Rls.EntityFrameworkCore
/// references ScaleOps.Rls. A new dependency is a decision: add it here with the reason it is needed.
/// </summary>
public static class ExpectedPackages
{
    /// <summary>The ScaleOps package each package depends on (null: none).</summary>
    public static readonly IReadOnlyDictionary<string, string?> ScaleOpsDependency = new Dictionary<string, string?>(StringComparer.Ordinal)
    {
        ["ScaleOps.Core"] = null,
        ["ScaleOps.Rls"] = "ScaleOps.Core",
        ["ScaleOps.Rls.EntityFrameworkCore"] = "ScaleOps.Rls",
        ["ScaleOps.Jobs"] = "ScaleOps.Core",
        ["ScaleOps.Partitioning"] = "ScaleOps.Core",
        ["ScaleOps.Caching"] = "ScaleOps.Core",
        ["ScaleOps.Resilience"] = "ScaleOps.Core",
    };

    /// <summary>The third-party packages each package depends on; their versions come from Directory.Packages.props.</summary>
    public static readonly IReadOnlyDictionary<string, string[]> ThirdParty = new Dictionary<string, string[]>(StringComparer.Ordinal)
    {
        ["ScaleOps.Core"] =
        [
            "Npgsql",
            "Microsoft.Extensions.DependencyInjection.Abstractions",
            "Microsoft.Extensions.Options",
            "Microsoft.Extensions.Configuration.Abstractions",
            "Microsoft.Extensions.Configuration.Binder",
            // Implementations, not their .Abstractions: AddScaleOps calls AddLogging and AddMetrics so that ILogger<T>
            // and IMeterFactory resolve in a host that never called them (see ScaleOps.Core.csproj).
            "Microsoft.Extensions.Logging",
            "Microsoft.Extensions.Diagnostics",
            "Microsoft.Extensions.Hosting.Abstractions",
        ],
        ["ScaleOps.Rls"] = [],
        ["ScaleOps.Rls.EntityFrameworkCore"] = ["Microsoft.EntityFrameworkCore.Relational"],
        ["ScaleOps.Jobs"] = ["Cronos"],
        // System.IO.Hashing: pinned above what Azure.Storage.Common asks for (see Directory.Packages.props).
        ["ScaleOps.Partitioning"] = ["Parquet.Net", "Azure.Storage.Blobs", "System.IO.Hashing"],
        ["ScaleOps.Caching"] = ["StackExchange.Redis", "Microsoft.Extensions.Caching.Abstractions"],
        ["ScaleOps.Resilience"] =
        [
            "StackExchange.Redis",
            "Polly.Core",
            "System.Threading.RateLimiting",
            "Microsoft.FeatureManagement",
            "Microsoft.Extensions.Diagnostics.HealthChecks.Abstractions",
        ],
    };

    /// <summary>Packages that belong to tests, builds and benchmarks, never to a package's dependencies.</summary>
    public static readonly string[] BuildAndTestOnlyPrefixes =
    [
        "xunit", "Microsoft.NET.Test.Sdk", "Microsoft.TestPlatform", "coverlet", "Microsoft.CodeAnalysis", "Snapshooter",
        "Microsoft.Extensions.Diagnostics.Testing", "Microsoft.Extensions.TimeProvider.Testing", "Microsoft.AspNetCore.Mvc.Testing",
        "Selenium", "BenchmarkDotNet", "Dapper", "Npgsql.EntityFrameworkCore", "Microsoft.SourceLink",
    ];

    /// <summary>The packages' target framework, as the .nuspec and lib/ name it.</summary>
    public const string TargetFramework = "net10.0";
}
