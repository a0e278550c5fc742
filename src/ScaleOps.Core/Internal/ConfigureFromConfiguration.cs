using System;
using System.Collections.Generic;
using System.Linq;
using System.Reflection;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Options;

namespace ScaleOps.Internal;

/// <summary>Marks that <typeparamref name="TOptions"/> is bound once, from <see cref="SectionPath"/>.</summary>
internal sealed record ConfigurationBinding<TOptions>(string SectionPath, bool Strict);

/// <summary>
/// Binds options from a configuration section when the host has an <see cref="IConfiguration"/>; a plain
/// service collection without configuration simply skips this step.
/// </summary>
/// <remarks>
/// A string-to-string dictionary (ScaleOps:Rls:TenantPlacements, :Shards) is keyed by names that may hold the
/// configuration's path separator: a tenant id <c>org:1</c> arrives as <c>TenantPlacements:org:1</c>, which the binder reads
/// as a section <c>org</c> holding a key <c>1</c> (and, strict, fails with "Cannot create instance of type 'System.String'").
/// Such a dictionary is filled here instead, each value under its whole path below the dictionary (<c>org:1</c>).
/// </remarks>
internal sealed class ConfigureFromConfiguration<TOptions>(IConfiguration? configuration, string sectionPath, bool strict)
    : IConfigureOptions<TOptions>
    where TOptions : class
{
    // The public string-to-string dictionaries of TOptions that the binder fills in place (a getter is enough).
    private static readonly PropertyInfo[] StringDictionaries = [.. typeof(TOptions)
        .GetProperties(BindingFlags.Public | BindingFlags.Instance)
        .Where(p => p.GetMethod is { IsPublic: true } && p.GetIndexParameters().Length == 0
            && typeof(IDictionary<string, string>).IsAssignableFrom(p.PropertyType))];

    public void Configure(TOptions options)
    {
        if (configuration is null)
        {
            return;
        }

        var section = configuration.GetSection(sectionPath);
        var nested = StringDictionaries.Where(p => section.GetSection(p.Name).GetChildren().Any(c => c.GetChildren().Any())).ToList();
        try
        {
            Bind(nested.Count == 0 ? section : Without(section, nested), options);
        }
        catch (InvalidOperationException ex)
        {
            // The binder's messages name the key and the type; say which section it came from as well. An unknown key
            // inside a collection (Queues:email:Concurency) comes as a generic message whose inner exception names it.
            var messages = new List<string>();
            for (Exception? e = ex; e is not null; e = e.InnerException)
            {
                messages.Add(e.Message);
            }

            throw new OptionsValidationException(
                sectionPath, typeof(TOptions), [$"Configuration section '{sectionPath}': {string.Join(" ", messages)}"]);
        }

        foreach (var property in nested)
        {
            if (property.GetValue(options) is IDictionary<string, string> dictionary)
            {
                foreach (var (key, value) in section.GetSection(property.Name).AsEnumerable(makePathsRelative: true))
                {
                    if (value is not null)
                    {
                        dictionary[key] = value;
                    }
                }
            }
        }
    }

    private void Bind(IConfiguration source, TOptions options) => source.Bind(options, o => o.ErrorOnUnknownConfiguration = strict);

    // The section's values without those of the given dictionaries, for the binder.
    private static IConfiguration Without(IConfigurationSection section, List<PropertyInfo> dictionaries) =>
        new ConfigurationBuilder().AddInMemoryCollection(section.AsEnumerable(makePathsRelative: true)
            .Where(kv => kv.Value is not null && !dictionaries.Any(p => kv.Key.Equals(p.Name, StringComparison.OrdinalIgnoreCase)
                || kv.Key.StartsWith(p.Name + ConfigurationPath.KeyDelimiter, StringComparison.OrdinalIgnoreCase))))
            .Build();
}
