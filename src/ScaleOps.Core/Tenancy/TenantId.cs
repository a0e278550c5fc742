using System;
using System.Diagnostics.CodeAnalysis;
using System.Globalization;

namespace ScaleOps.Tenancy;

/// <summary>
/// A validated tenant identifier. Every ScaleOps package takes the tenant from here: RLS settings, cache keys,
/// rate-limit partitions, quotas, jobs and audit rows.
/// </summary>
/// <remarks>
/// The rules: 1 to <see cref="MaxLength"/> UTF-16 characters; no control characters, no format characters (zero-width
/// and bidirectional marks), no other invisible (default-ignorable) code points such as variation selectors, the
/// combining grapheme joiner or Hangul fillers, no line or paragraph separators, no unpaired surrogates, no private-use or
/// unassigned code points; no leading or trailing white space. Comparison is ordinal and case-sensitive: <c>Acme</c> and <c>acme</c> are
/// two tenants. Any other Unicode letter, digit, symbol or punctuation is allowed; quotes and SQL keywords are harmless
/// because ScaleOps only ever sends a tenant id as a parameter. <c>default(TenantId)</c> is not a valid tenant:
/// reading its <see cref="Value"/> throws.
/// </remarks>
public readonly struct TenantId : IEquatable<TenantId>, IComparable<TenantId>, IParsable<TenantId>
{
    /// <summary>The maximum length in UTF-16 characters.</summary>
    public const int MaxLength = 128;

    private readonly string? _value;

    /// <summary>Creates a tenant id, validating it.</summary>
    /// <param name="value">The identifier.</param>
    /// <exception cref="ArgumentException">The value breaks a rule; the message says which.</exception>
    public TenantId(string value)
    {
        ArgumentNullException.ThrowIfNull(value);
        var error = Validate(value);
        if (error is not null)
        {
            throw new ArgumentException($"Invalid tenant id: {error}", nameof(value));
        }

        _value = value;
    }

    /// <summary>The identifier as text.</summary>
    /// <exception cref="InvalidOperationException">This is <c>default(TenantId)</c>.</exception>
    public string Value => _value ?? throw new InvalidOperationException("default(TenantId) is not a tenant; create one with new TenantId(value) or TenantId.Parse.");

    /// <summary>Whether this is <c>default(TenantId)</c>, which holds no tenant.</summary>
    public bool IsDefault => _value is null;

    /// <summary>Checks a candidate tenant id against the rules.</summary>
    /// <param name="value">The candidate.</param>
    /// <returns><see langword="null"/> when valid, otherwise a sentence naming the broken rule.</returns>
    public static string? Validate(ReadOnlySpan<char> value)
    {
        if (value.IsEmpty)
        {
            return "it is empty.";
        }

        if (value.Length > MaxLength)
        {
            return $"it is {value.Length} characters long; the maximum is {MaxLength}.";
        }

        if (char.IsWhiteSpace(value[0]) || char.IsWhiteSpace(value[^1]))
        {
            return "it starts or ends with white space.";
        }

        for (var i = 0; i < value.Length; i++)
        {
            var c = value[i];
            if (c is >= ' ' and < '\u007F')
            {
                continue; // printable ASCII: the common case, always allowed
            }

            if (char.IsHighSurrogate(c) && i + 1 < value.Length && char.IsLowSurrogate(value[i + 1]))
            {
                var codePoint = char.ConvertToUtf32(c, value[i + 1]);
                var category = CharUnicodeInfo.GetUnicodeCategory(codePoint);
                if (IsForbidden(category))
                {
                    return $"it contains the code point U+{codePoint:X4} ({category}) at index {i}.";
                }

                if (IsInvisible(codePoint))
                {
                    return Invisible(codePoint, i);
                }

                i++;
                continue;
            }

            var cat = CharUnicodeInfo.GetUnicodeCategory(c);
            if (IsForbidden(cat) || cat == UnicodeCategory.Surrogate)
            {
                return $"it contains the character U+{(int)c:X4} ({cat}) at index {i}.";
            }

            if (IsInvisible(c))
            {
                return Invisible(c, i);
            }
        }

        return null;
    }

    private static bool IsForbidden(UnicodeCategory category) => category is UnicodeCategory.Control
        or UnicodeCategory.Format
        or UnicodeCategory.LineSeparator
        or UnicodeCategory.ParagraphSeparator
        or UnicodeCategory.PrivateUse
        or UnicodeCategory.OtherNotAssigned;

    /// <summary>
    /// The default-ignorable code points (Unicode's Default_Ignorable_Code_Point) that are not format or unassigned
    /// characters: they render as nothing, so <c>acme</c> followed by one displays as <c>acme</c>.
    /// </summary>
    private static bool IsInvisible(int codePoint) => codePoint is 0x034F // combining grapheme joiner
        or >= 0x115F and <= 0x1160 or 0x3164 or 0xFFA0 // Hangul fillers
        or >= 0x17B4 and <= 0x17B5 // Khmer inherent vowels
        or >= 0x180B and <= 0x180D or 0x180F // Mongolian free variation selectors
        or >= 0xFE00 and <= 0xFE0F or >= 0xE0100 and <= 0xE01EF; // variation selectors

    private static string Invisible(int codePoint, int index) =>
        $"it contains the invisible code point U+{codePoint:X4} at index {index} (default-ignorable: it renders as nothing, so the id would look like another).";

    /// <summary>Parses a tenant id.</summary>
    /// <param name="s">The text.</param>
    /// <param name="provider">Ignored.</param>
    /// <returns>The tenant id.</returns>
    /// <exception cref="ArgumentException">The text breaks a rule.</exception>
    public static TenantId Parse(string s, IFormatProvider? provider = null) => new(s);

    /// <summary>Tries to parse a tenant id.</summary>
    /// <param name="s">The text.</param>
    /// <param name="provider">Ignored.</param>
    /// <param name="result">The tenant id when valid.</param>
    /// <returns>Whether the text is a valid tenant id.</returns>
    public static bool TryParse([NotNullWhen(true)] string? s, IFormatProvider? provider, out TenantId result)
    {
        if (s is not null && Validate(s) is null)
        {
            result = new TenantId(s);
            return true;
        }

        result = default;
        return false;
    }

    /// <summary>Tries to parse a tenant id.</summary>
    /// <param name="s">The text.</param>
    /// <param name="result">The tenant id when valid.</param>
    /// <returns>Whether the text is a valid tenant id.</returns>
    public static bool TryParse([NotNullWhen(true)] string? s, out TenantId result) => TryParse(s, null, out result);

    /// <inheritdoc />
    public bool Equals(TenantId other) => string.Equals(_value, other._value, StringComparison.Ordinal);

    /// <inheritdoc />
    public override bool Equals(object? obj) => obj is TenantId other && Equals(other);

    /// <inheritdoc />
    public override int GetHashCode() => _value is null ? 0 : StringComparer.Ordinal.GetHashCode(_value);

    /// <inheritdoc />
    public int CompareTo(TenantId other) => string.CompareOrdinal(_value, other._value);

    /// <summary>The identifier, or an empty string for <c>default(TenantId)</c>.</summary>
    /// <returns>The text.</returns>
    public override string ToString() => _value ?? string.Empty;

    /// <summary>Equality.</summary>
    /// <param name="left">Left.</param>
    /// <param name="right">Right.</param>
    /// <returns>Whether both hold the same identifier.</returns>
    public static bool operator ==(TenantId left, TenantId right) => left.Equals(right);

    /// <summary>Inequality.</summary>
    /// <param name="left">Left.</param>
    /// <param name="right">Right.</param>
    /// <returns>Whether the identifiers differ.</returns>
    public static bool operator !=(TenantId left, TenantId right) => !left.Equals(right);

    /// <summary>Ordinal ordering.</summary>
    /// <param name="left">Left.</param>
    /// <param name="right">Right.</param>
    /// <returns>Whether left sorts before right.</returns>
    public static bool operator <(TenantId left, TenantId right) => left.CompareTo(right) < 0;

    /// <summary>Ordinal ordering.</summary>
    /// <param name="left">Left.</param>
    /// <param name="right">Right.</param>
    /// <returns>Whether left sorts after right.</returns>
    public static bool operator >(TenantId left, TenantId right) => left.CompareTo(right) > 0;

    /// <summary>Ordinal ordering.</summary>
    /// <param name="left">Left.</param>
    /// <param name="right">Right.</param>
    /// <returns>Whether left sorts before or equal to right.</returns>
    public static bool operator <=(TenantId left, TenantId right) => left.CompareTo(right) <= 0;

    /// <summary>Ordinal ordering.</summary>
    /// <param name="left">Left.</param>
    /// <param name="right">Right.</param>
    /// <returns>Whether left sorts after or equal to right.</returns>
    public static bool operator >=(TenantId left, TenantId right) => left.CompareTo(right) >= 0;
}
