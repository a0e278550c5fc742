using System;
using System.Runtime.InteropServices;

namespace ScaleOps.Internal;

/// <summary>
/// Finds unpaired surrogates in text that becomes part of a Redis key. Keys are UTF-8 bytes, and StackExchange.Redis
/// encodes an unpaired surrogate (which has no UTF-8 form) as U+FFFD, so <c>a\uD800</c>, <c>a\uDBFF</c> and
/// <c>a\uFFFD</c> would be one key. Compiled into ScaleOps.Caching, ScaleOps.Resilience and ScaleOps.Rls (user ids and roles
/// sent to <c>set_config</c>).
/// </summary>
internal static class UnpairedSurrogates
{
    /// <summary>The index of the first unpaired surrogate, or -1. Allocates nothing; one vectorized scan when there is none.</summary>
    /// <param name="text">The text.</param>
    /// <returns>The index, or -1.</returns>
    public static int IndexOf(ReadOnlySpan<char> text)
    {
        // Scanned as UTF-16 code units: the char overload of IndexOfAnyInRange allocated on every call (.NET 10.0.12).
        var first = MemoryMarshal.Cast<char, ushort>(text).IndexOfAnyInRange((ushort)0xD800, (ushort)0xDFFF);
        if (first < 0)
        {
            return -1;
        }

        for (var i = first; i < text.Length; i++)
        {
            if (char.IsHighSurrogate(text[i]) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1]))
            {
                i++;
            }
            else if (char.IsSurrogate(text[i]))
            {
                return i;
            }
        }

        return -1;
    }

    /// <summary>
    /// <see langword="null"/> for text without unpaired surrogates, else "an unpaired surrogate (U+XXXX) at index N".
    /// </summary>
    /// <param name="text">The text.</param>
    /// <returns>The description, or <see langword="null"/>.</returns>
    public static string? Describe(string text) =>
        IndexOf(text) is var at and >= 0
            ? string.Create(System.Globalization.CultureInfo.InvariantCulture, $"an unpaired surrogate (U+{(int)text[at]:X4}) at index {at}")
            : null;
}
