using System;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Options;

namespace ScaleOps.Internal;

/// <summary>Marks that <typeparamref name="TOptions"/> is bound once, from <see cref="SectionPath"/>.</summary>
internal sealed record ConfigurationBinding<TOptions>(string SectionPath, bool Strict);

/// <summary>
/// Binds options from a configuration section when the host has an <see cref="IConfiguration"/>; a plain
/// service collection without configuration simply skips this step.
/// </summary>
internal sealed class ConfigureFromConfiguration<TOptions>(IConfiguration? configuration, string sectionPath, bool strict)
    : IConfigureOptions<TOptions>
    where TOptions : class
{
    public void Configure(TOptions options)
    {
        if (configuration is null)
        {
            return;
        }

        var section = configuration.GetSection(sectionPath);
        try
        {
            section.Bind(options, o => o.ErrorOnUnknownConfiguration = strict);
        }
        catch (InvalidOperationException ex)
        {
            // The binder's message names the key and the type; say which section it came from as well.
            throw new OptionsValidationException(sectionPath, typeof(TOptions), [$"Configuration section '{sectionPath}': {ex.Message}"]);
        }
    }
}
