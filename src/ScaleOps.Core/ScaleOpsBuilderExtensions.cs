using System;
using System.Linq;
using System.Reflection;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Options;
using ScaleOps;
using ScaleOps.Internal;
using ScaleOps.Internal.Validators;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>
/// Helpers the ScaleOps packages use to plug into the builder the same way. In this namespace, like <c>AddScaleOps</c>
/// and every package's <c>Add*</c> method, so registering needs no <c>using ScaleOps;</c>.
/// </summary>
public static class ScaleOpsBuilderExtensions
{
    /// <summary>
    /// Registers <typeparamref name="TOptions"/> bound from the configuration section <c>ScaleOps:{section}</c>
    /// (unknown keys are errors), then <paramref name="configure"/>, validated when the host starts.
    /// </summary>
    /// <typeparam name="TOptions">The options type.</typeparam>
    /// <param name="builder">The ScaleOps builder.</param>
    /// <param name="section">The child section of <c>ScaleOps</c>, for example <c>Jobs</c>.</param>
    /// <param name="configure">Optional code configuration, applied after the configuration section.</param>
    /// <returns>The options builder, to add validators.</returns>
    public static OptionsBuilder<TOptions> AddScaleOpsOptions<TOptions>(
        this IScaleOpsBuilder builder, string section, Action<TOptions>? configure = null)
        where TOptions : class
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentException.ThrowIfNullOrWhiteSpace(section);
        var options = Concrete(builder).BindOptions<TOptions>($"{ScaleOpsOptions.SectionName}:{section}", strict: true);
        Concrete(builder).Sections.Add(section);
        if (configure is not null)
        {
            options.Configure(configure);
        }

        return options;
    }

    /// <summary>
    /// Registers the versioned SQL migrations embedded in <paramref name="assembly"/> under
    /// <paramref name="resourcePrefix"/> (files named <c>0001_name.sql</c>) as the component
    /// <paramref name="component"/>. They are applied once, in version order, under an advisory lock.
    /// Registering the same component twice is harmless.
    /// </summary>
    /// <exception cref="ArgumentException"><paramref name="component"/> is already registered with other scripts.</exception>
    /// <param name="builder">The ScaleOps builder.</param>
    /// <param name="component">A stable name for the package's schema, for example <c>jobs</c>.</param>
    /// <param name="assembly">The assembly that embeds the scripts.</param>
    /// <param name="resourcePrefix">The manifest resource name prefix, for example <c>ScaleOps.Jobs.Sql.Migrations.</c>.</param>
    /// <returns>The same builder.</returns>
    public static IScaleOpsBuilder AddMigrations(this IScaleOpsBuilder builder, string component, Assembly assembly, string resourcePrefix)
    {
        ArgumentNullException.ThrowIfNull(builder);
        var set = MigrationSet.FromAssembly(component, assembly, resourcePrefix);
        var registered = builder.Services
            .Select(d => d.ServiceType == typeof(MigrationSet) ? d.ImplementationInstance as MigrationSet : null)
            .FirstOrDefault(s => s is not null && string.Equals(s.Component, set.Component, StringComparison.Ordinal));
        if (registered is null)
        {
            builder.Services.AddSingleton(set);
        }
        else if (!registered.HasSameScripts(set))
        {
            // Only one set per component is applied: another one would be dropped without a word.
            throw new ArgumentException(
                $"The migration component '{component}' is already registered with other scripts ({registered.Source}); "
                + $"the scripts of {set.Source} need a component name of their own.", nameof(component));
        }

        return builder;
    }

    /// <summary>
    /// Declares the Redis keys a package writes: <paramref name="resolve"/> gives their <see cref="RedisKeyNamespace"/>
    /// from the package's options when the host starts, once those are valid (not called otherwise: their own errors stop
    /// the start). The start then fails with an <see cref="OptionsValidationException"/> naming both settings and their
    /// values when the prefixes of two owners overlap (one begins with the other), whatever Redis servers the packages use.
    /// A second declaration by the same owner is ignored.
    /// </summary>
    /// <typeparam name="TOptions">The package's options type.</typeparam>
    /// <param name="builder">The ScaleOps builder.</param>
    /// <param name="owner">The package, for example <c>ScaleOps.Caching</c>.</param>
    /// <param name="resolve">The namespace, or <see langword="null"/> when the package writes no Redis key with these options.</param>
    /// <returns>The same builder.</returns>
    public static IScaleOpsBuilder AddRedisKeyNamespace<TOptions>(
        this IScaleOpsBuilder builder, string owner, Func<TOptions, RedisKeyNamespace?> resolve)
        where TOptions : class
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentException.ThrowIfNullOrWhiteSpace(owner);
        ArgumentNullException.ThrowIfNull(resolve);
        var services = builder.Services;
        var sources = services
            .Select(d => d.ServiceType == typeof(RedisKeyNamespaceSource) ? d.ImplementationInstance as RedisKeyNamespaceSource : null)
            .OfType<RedisKeyNamespaceSource>()
            .ToList();
        if (sources.Count == 0)
        {
            services.AddOptions<RedisKeyNamespaceCheck>().ValidateOnStart();
            services.AddSingleton<IValidateOptions<RedisKeyNamespaceCheck>>(sp => new RedisKeyNamespaceValidator(sp));
        }
        else if (sources.Exists(s => string.Equals(s.Owner, owner, StringComparison.Ordinal)))
        {
            return builder;
        }

        services.AddSingleton(new RedisKeyNamespaceSource(owner, sp =>
        {
            try
            {
                return resolve(sp.GetRequiredService<IOptions<TOptions>>().Value);
            }
            catch (OptionsValidationException ex) when (ex.OptionsType == typeof(TOptions))
            {
                return null; // the package's own validation reports it
            }
        }));
        return builder;
    }

    private static ScaleOpsBuilder Concrete(IScaleOpsBuilder builder) =>
        builder as ScaleOpsBuilder
        ?? builder.Services.FirstOrDefault(d => d.ServiceType == typeof(ScaleOpsBuilder))?.ImplementationInstance as ScaleOpsBuilder
        ?? throw new InvalidOperationException("Call services.AddScaleOps() before adding ScaleOps packages.");

    internal static OptionsBuilder<TOptions> BindOptions<TOptions>(this ScaleOpsBuilder builder, string sectionPath, bool strict)
        where TOptions : class
    {
        var services = builder.Services;
        var marker = typeof(ConfigurationBinding<TOptions>);
        if (!services.Any(d => d.ServiceType == marker))
        {
            services.AddSingleton(new ConfigurationBinding<TOptions>(sectionPath, strict));
            services.AddSingleton<IConfigureOptions<TOptions>>(sp =>
                new ConfigureFromConfiguration<TOptions>(sp.GetService<IConfiguration>(), sectionPath, strict));
        }

        return services.AddOptions<TOptions>().ValidateOnStart();
    }
}
