using System;
using System.Text;
using ScaleOps.Internal;

namespace ScaleOps.Data;

/// <summary>
/// Quotes PostgreSQL identifiers (schema, table, column, index, role names) for DDL and statements that cannot take
/// them as parameters. Every ScaleOps package that writes SQL quotes identifiers through this class, once, at start-up.
/// </summary>
/// <remarks>
/// A valid identifier is 1 to <see cref="MaxBytes"/> bytes of UTF-8 with no NUL character and no unpaired surrogate. Longer names are rejected
/// rather than silently truncated by PostgreSQL (two long names could otherwise become the same table). Quoting
/// keeps case and every other character: <c>Orders</c> and <c>orders</c> are two names.
/// </remarks>
public static class SqlIdentifier
{
    /// <summary>The longest identifier PostgreSQL keeps without truncation (NAMEDATALEN - 1).</summary>
    public const int MaxBytes = 63;

    /// <summary>Checks a candidate identifier.</summary>
    /// <param name="name">The candidate.</param>
    /// <returns><see langword="null"/> when valid, otherwise a sentence saying why not.</returns>
    public static string? Validate(string? name)
    {
        if (string.IsNullOrEmpty(name))
        {
            return "an identifier cannot be empty.";
        }

        if (name.Contains('\0', StringComparison.Ordinal))
        {
            return "an identifier cannot contain a NUL character.";
        }

        if (Utf16.FirstUnpairedSurrogate(name) is var i and >= 0)
        {
            // No UTF-8 form: Npgsql's encoder would refuse the statement, naming neither the identifier nor the rule.
            return $"an identifier cannot contain an unpaired surrogate (U+{(int)name[i]:X4} at index {i}); it has no UTF-8 form.";
        }

        var bytes = Encoding.UTF8.GetByteCount(name);
        if (bytes > MaxBytes)
        {
            return $"an identifier is at most {MaxBytes} bytes of UTF-8; this one is {bytes} bytes (PostgreSQL would truncate it).";
        }

        return null;
    }

    /// <summary>Quotes one identifier: <c>my "table"</c> becomes <c>"my ""table"""</c>.</summary>
    /// <param name="name">The identifier.</param>
    /// <returns>The quoted identifier, safe to splice into SQL.</returns>
    /// <exception cref="ArgumentException">
    /// The name is empty, contains NUL or an unpaired surrogate, or is longer than <see cref="MaxBytes"/> bytes.
    /// </exception>
    public static string Quote(string name)
    {
        var error = Validate(name);
        if (error is not null)
        {
            throw new ArgumentException($"Invalid SQL identifier: {error}", nameof(name));
        }

        return string.Concat("\"", name.Replace("\"", "\"\"", StringComparison.Ordinal), "\"");
    }

    /// <summary>Quotes a schema-qualified name: <c>"schema"."name"</c>.</summary>
    /// <param name="schema">The schema.</param>
    /// <param name="name">The object name.</param>
    /// <returns>The quoted, qualified name.</returns>
    /// <exception cref="ArgumentException">Either part is invalid.</exception>
    public static string Qualify(string schema, string name) => string.Concat(Quote(schema), ".", Quote(name));
}
