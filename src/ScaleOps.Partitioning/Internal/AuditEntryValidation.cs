using System;
using System.Buffers;
using System.Globalization;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using ScaleOps.Partitioning.Audit;

namespace ScaleOps.Partitioning.Internal;

/// <summary>
/// Checks an audit event for values PostgreSQL can never store, so they fail at <c>WriteAsync</c> naming the field instead
/// of failing every write of their batch: NUL in text (PostgreSQL text cannot hold U+0000), a lone UTF-16 surrogate (not
/// valid Unicode: the strict UTF-8 encoder refuses it), and in JSON an escaped <c>\u0000</c> or lone surrogate escape
/// (jsonb refuses both).
/// </summary>
internal static class AuditEntryValidation
{
    /// <returns>
    /// The JSON text of <see cref="AuditEntry.Changes"/> and <see cref="AuditEntry.Metadata"/>, read once here: it is what
    /// is written, and a string stays valid after the caller disposes its <see cref="JsonDocument"/>.
    /// </returns>
    /// <exception cref="ArgumentException">A field breaks a rule; the message names the field.</exception>
    public static (string? Changes, string? Metadata) Validate(AuditEntry entry, string? actor)
    {
        Required(entry.Action, nameof(AuditEntry.Action));
        Required(entry.EntityType, nameof(AuditEntry.EntityType));
        Text(entry.EntityId, nameof(AuditEntry.EntityId));
        Text(actor, entry.Actor is null ? "Actor (the scope's user id)" : nameof(AuditEntry.Actor));
        Text(entry.UserAgent, nameof(AuditEntry.UserAgent));
        return (Json(entry.Changes, nameof(AuditEntry.Changes)), Json(entry.Metadata, nameof(AuditEntry.Metadata)));
    }

    private static void Required(string? value, string field)
    {
        if (value is null)
        {
            throw new ArgumentException($"AuditEntry.{field} is required (it is null).", "entry");
        }

        Text(value, field);
    }

    private static void Text(string? value, string field)
    {
        if (value is null)
        {
            return;
        }

        for (var i = 0; i < value.Length; i++)
        {
            var c = value[i];
            if (c == '\0')
            {
                throw new ArgumentException(
                    $"AuditEntry.{field} contains a NUL character (U+0000) at index {i}; PostgreSQL text cannot store it.", "entry");
            }

            if (char.IsHighSurrogate(c) && i + 1 < value.Length && char.IsLowSurrogate(value[i + 1]))
            {
                i++;
            }
            else if (char.IsSurrogate(c))
            {
                throw new ArgumentException(
                    $"AuditEntry.{field} contains a lone UTF-16 surrogate (U+{(int)c:X4}) at index {i}; it is not valid Unicode and cannot be stored.", "entry");
            }
        }
    }

    private static string? Json(JsonElement? value, string field)
    {
        if (value is not { } json)
        {
            return null;
        }

        if (json.ValueKind == JsonValueKind.Undefined)
        {
            throw new ArgumentException($"AuditEntry.{field} is an undefined JsonElement (default); leave it null instead.", "entry");
        }

        // The raw text is what is sent, once it is plain JSON. A backslash then only occurs inside a JSON string, always
        // starting an escape.
        var text = json.GetRawText();
        Text(text, field);
        if (!IsPlainJson(text))
        {
            text = Rewrite(json, field);
        }

        for (var i = 0; i < text.Length; i++)
        {
            if (text[i] != '\\')
            {
                continue;
            }

            i++;
            if (text[i] != 'u')
            {
                continue;
            }

            var code = Hex(text, i + 1);
            i += 4;
            if (code == 0)
            {
                throw new ArgumentException(
                    $"AuditEntry.{field} contains the JSON escape \\u0000; PostgreSQL jsonb cannot store it.", "entry");
            }

            if (code is >= 0xD800 and <= 0xDBFF && i + 6 < text.Length && text[i + 1] == '\\' && text[i + 2] == 'u'
                && Hex(text, i + 3) is >= 0xDC00 and <= 0xDFFF)
            {
                i += 6;
            }
            else if (code is >= 0xD800 and <= 0xDFFF)
            {
                throw new ArgumentException(
                    $"AuditEntry.{field} contains the JSON escape \\u{code:x4}, a lone surrogate; PostgreSQL jsonb cannot store it.", "entry");
            }
        }

        return text;
    }

    /// <summary>
    /// Whether <paramref name="text"/> is JSON as jsonb reads it. The raw text of an element read by a lenient
    /// <see cref="JsonDocument"/> keeps the comments and trailing commas it skipped, which jsonb refuses (22P02): the event
    /// was accepted, then dropped as invalid data.
    /// </summary>
    private static bool IsPlainJson(string text)
    {
        var reader = new Utf8JsonReader(Encoding.UTF8.GetBytes(text));
        try
        {
            while (reader.Read())
            {
            }

            return true;
        }
        catch (JsonException)
        {
            return false;
        }
    }

    /// <summary>The element written anew, without the comments and trailing commas of its source.</summary>
    private static string Rewrite(JsonElement json, string field)
    {
        var buffer = new ArrayBufferWriter<byte>();
        try
        {
            using var writer = new Utf8JsonWriter(buffer, new JsonWriterOptions { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping });
            json.WriteTo(writer);
        }
        catch (InvalidOperationException ex)
        {
            // Writing a string unescapes it; a lone surrogate escape cannot be.
            throw new ArgumentException(
                $"AuditEntry.{field} contains a JSON string that is not valid UTF-16 (a lone surrogate escape); PostgreSQL jsonb cannot store it.", "entry", ex);
        }

        return Encoding.UTF8.GetString(buffer.WrittenSpan);
    }

    private static int Hex(string text, int start) =>
        int.Parse(text.AsSpan(start, 4), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture);
}
