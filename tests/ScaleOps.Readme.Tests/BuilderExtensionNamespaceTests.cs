using System.Reflection;
using System.Runtime.CompilerServices;

namespace ScaleOps.Readme.Tests;

/// <summary>
/// The READMEs register everything with <c>using Microsoft.Extensions.DependencyInjection;</c> alone: every public
/// extension method of <see cref="IServiceCollection"/> and of the ScaleOps builder, in every package, lives in that
/// namespace (as <c>AddScaleOps</c> and the ASP.NET Core <c>Add*</c> methods do), so none needs a <c>using ScaleOps;</c>.
/// </summary>
public class BuilderExtensionNamespaceTests
{
    private static readonly string[] Packages =
    [
        "ScaleOps.Core", "ScaleOps.Rls", "ScaleOps.Rls.EntityFrameworkCore", "ScaleOps.Jobs", "ScaleOps.Partitioning",
        "ScaleOps.Caching", "ScaleOps.Resilience",
    ];

    [Fact]
    public void Every_builder_extension_is_in_the_DependencyInjection_namespace()
    {
        var extensions = Packages
            .SelectMany(p => Assembly.Load(new AssemblyName(p)).GetExportedTypes())
            .Where(t => t is { IsAbstract: true, IsSealed: true })
            .SelectMany(t => t.GetMethods(BindingFlags.Public | BindingFlags.Static))
            .Where(m => m.IsDefined(typeof(ExtensionAttribute), inherit: false) && ExtendsABuilder(m.GetParameters()[0].ParameterType))
            .ToList();

        // The check sees every package's entry point, so an empty or partial scan cannot pass it.
        Assert.Superset(
            new HashSet<string>(StringComparer.Ordinal)
            {
                "AddScaleOps", "AddScaleOpsOptions", "AddMigrations", "AddRls", "AddRlsEntityFrameworkCore", "AddJobs",
                "AddPartitioning", "AddCaching", "AddResilience",
            },
            extensions.Select(m => m.Name).ToHashSet(StringComparer.Ordinal));
        Assert.Empty(extensions
            .Where(m => !string.Equals(m.DeclaringType!.Namespace, "Microsoft.Extensions.DependencyInjection", StringComparison.Ordinal))
            .Select(m => $"{m.DeclaringType!.FullName}.{m.Name}"));
    }

    private static bool ExtendsABuilder(Type type) =>
        type == typeof(IServiceCollection) || typeof(IScaleOpsBuilder).IsAssignableFrom(type);
}
