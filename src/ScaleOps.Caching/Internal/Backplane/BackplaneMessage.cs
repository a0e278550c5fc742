using System;
using System.Globalization;

namespace ScaleOps.Caching.Internal.Backplane;

/// <summary>
/// An invalidation sent to the other instances: <c>1\n{instance}\n{kind}\n{generation}\n{tenant}\n{key or tag}</c>.
/// Tenant ids cannot contain a line feed; the key comes last and may contain anything.
/// </summary>
internal readonly record struct BackplaneMessage(string Instance, char Kind, long Generation, string Tenant, string Subject)
{
    /// <summary>One key changed or was removed.</summary>
    public const char Key = 'K';

    /// <summary>Every entry with a tag was removed.</summary>
    public const char Tag = 'T';

    /// <summary>The tenant's generation moved to <see cref="Generation"/>: every entry of the tenant is invalid.</summary>
    public const char TenantGeneration = 'G';

    public string Format() => string.Create(CultureInfo.InvariantCulture, $"1\n{Instance}\n{Kind}\n{Generation}\n{Tenant}\n{Subject}");

    public static bool TryParse(string? text, out BackplaneMessage message)
    {
        message = default;
        if (text is null || !text.StartsWith("1\n", StringComparison.Ordinal))
        {
            return false;
        }

        var parts = text.Split('\n', 6);
        if (parts.Length != 6 || parts[2].Length != 1
            || !long.TryParse(parts[3], NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var generation))
        {
            return false;
        }

        message = new BackplaneMessage(parts[1], parts[2][0], generation, parts[4], parts[5]);
        return true;
    }
}
