using System.Text.RegularExpressions;

namespace ScaleOps.SampleHost.Tenancy;

/// <summary>The sample's tenant ids: 1 to 63 lowercase letters, digits and dashes.</summary>
public static partial class TenantSlug
{
    public const string Header = "X-Tenant-Id";

    public static bool IsValid(string? value) => value is not null && Pattern().IsMatch(value);

    // \z, not $: in .NET, $ also matches before a final newline, so "acme\n" would pass.
    [GeneratedRegex("^[a-z0-9-]{1,63}\\z", RegexOptions.CultureInvariant, matchTimeoutMilliseconds: 100)]
    private static partial Regex Pattern();
}
