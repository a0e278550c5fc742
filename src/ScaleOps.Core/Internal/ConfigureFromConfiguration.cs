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
            // The binder's messages name the key and the type; say which section it came from as well. An unknown key
            // inside a collection (Queues:email:Concurency) comes as a generic message whose inner exception names it.
            var messages = new System.Collections.Generic.List<string>();
            for (Exception? e = ex; e is not null; e = e.InnerException)
            {
                messages.Add(e.Message);
            }

            throw new OptionsValidationException(
                sectionPath, typeof(TOptions), [$"Configuration section '{sectionPath}': {string.Join(" ", messages)}"]);
        }
    }
}
