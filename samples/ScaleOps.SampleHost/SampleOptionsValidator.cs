using System;
using System.Collections.Generic;
using System.Linq;
using System.Reflection;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Options;

namespace ScaleOps.SampleHost;

/// <summary>
/// Start-up checks of the <c>Sample</c> section that data annotations cannot make: a misspelled key is an error (the
/// binder would ignore it and the setting would silently keep its default), and each plan's limits are checked under the
/// name the user wrote (<c>Sample:Plans:team:RequestsPerSecond</c>), not the <c>ScaleOps:Resilience</c> settings the
/// sample derives from them.
/// </summary>
public sealed class SampleOptionsValidator(IConfiguration configuration) : IValidateOptions<SampleOptions>
{
    public const string Section = "Sample";

    public ValidateOptionsResult Validate(string? name, SampleOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var errors = new List<string>();
        var section = configuration.GetSection(Section);
        Unknown(section, typeof(SampleOptions), errors);
        foreach (var plan in section.GetSection(nameof(SampleOptions.Plans)).GetChildren())
        {
            Unknown(plan, typeof(PlanLimits), errors);
        }

        // The binder adds Sample:Plans:Pro beside the default pro (the dictionary is case-sensitive) where the user meant to
        // change pro; the limiter and quotas would refuse the pair, naming their own settings.
        var defaults = new SampleOptions().Plans.Keys;
        foreach (var group in options.Plans.Keys.GroupBy(k => k, StringComparer.OrdinalIgnoreCase).Where(g => g.Count() > 1))
        {
            var original = group.FirstOrDefault(defaults.Contains) ?? group.Order(StringComparer.Ordinal).First();
            foreach (var other in group.Where(k => k != original).Order(StringComparer.Ordinal))
            {
                errors.Add($"{Section}:{nameof(SampleOptions.Plans)}:{other} differs from the plan {original} only in case: write "
                    + $"{Section}:{nameof(SampleOptions.Plans)}:{original}:... to change that plan, or give the new plan another name.");
            }
        }

        foreach (var (plan, limits) in options.Plans.OrderBy(p => p.Key, StringComparer.Ordinal))
        {
            var path = $"{Section}:{nameof(SampleOptions.Plans)}:{plan}";
            if (limits is null)
            {
                errors.Add($"{path} is empty: give it {nameof(PlanLimits.RequestsPerSecond)} (and {nameof(PlanLimits.MaxDocuments)}, or none for no limit).");
                continue;
            }

            if (limits.RequestsPerSecond < 1)
            {
                errors.Add($"{path}:{nameof(PlanLimits.RequestsPerSecond)} must be at least 1 (it is {limits.RequestsPerSecond}); every plan needs "
                    + $"one (plan names are case-sensitive: the plans are {string.Join(", ", options.Plans.Keys.Order(StringComparer.Ordinal))}).");
            }

            if (limits.MaxDocuments is < 1)
            {
                errors.Add($"{path}:{nameof(PlanLimits.MaxDocuments)} must be at least 1 (it is {limits.MaxDocuments}); leave it out for no limit.");
            }
        }

        BlobConnectionString(configuration.GetConnectionString("Blob"), errors);
        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }

    /// <summary>
    /// <c>ConnectionStrings:Blob</c> switches archiving on (Program.cs); one that does not parse would only fail when
    /// maintenance or an operator archives (a 500 on every archive endpoint), so it is parsed here (no network call).
    /// The value is not quoted: it holds the account key.
    /// </summary>
    private static void BlobConnectionString(string? value, List<string> errors)
    {
        if (string.IsNullOrWhiteSpace(value))
        {
            return;
        }

        try
        {
            _ = new Azure.Storage.Blobs.BlobServiceClient(value);
        }
        catch (Exception ex) when (ex is FormatException or ArgumentException or InvalidOperationException)
        {
            errors.Add("ConnectionStrings:Blob is not a storage connection string: give the account's (DefaultEndpointsProtocol=...;"
                + "AccountName=...;AccountKey=...;BlobEndpoint=...), or leave it out to keep expired audit partitions in PostgreSQL.");
        }
    }

    private static void Unknown(IConfigurationSection section, Type type, List<string> errors)
    {
        var known = type.GetProperties(BindingFlags.Public | BindingFlags.Instance).Select(p => p.Name).ToArray();
        foreach (var child in section.GetChildren())
        {
            if (!known.Contains(child.Key, StringComparer.OrdinalIgnoreCase))
            {
                errors.Add($"{child.Path} is not a known setting. Known settings: {string.Join(", ", known)}.");
            }
        }
    }
}
