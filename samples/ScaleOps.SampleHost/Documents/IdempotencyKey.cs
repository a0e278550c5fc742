using System;
using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.Http;

namespace ScaleOps.SampleHost.Documents;

/// <summary>
/// The <c>Idempotency-Key</c> request header of <c>POST /documents</c> (Stripe's convention; the IETF httpapi draft's
/// name): a value the client picks once per intended create (a UUID, say) and sends again with each retry of it.
/// </summary>
public static class IdempotencyKey
{
    public const string Header = "Idempotency-Key";

    /// <summary>The response header of a retry answered with the document an earlier request created.</summary>
    public const string ReplayedHeader = "Idempotent-Replayed";

    public const int MaxLength = 255;

    /// <summary>
    /// The request's key: null without the header; <paramref name="problem"/> set when the header is there but is not one
    /// value of 1 to <see cref="MaxLength"/> visible ASCII characters (no space, no control, nothing else).
    /// </summary>
    public static string? Read(HttpRequest request, out string? problem)
    {
        ArgumentNullException.ThrowIfNull(request);
        problem = null;
        if (!request.Headers.TryGetValue(Header, out var values))
        {
            return null;
        }

        if (values.Count != 1 || values[0] is not { Length: > 0 and <= MaxLength } key || !IsVisibleAscii(key))
        {
            problem = $"The {Header} header must be one value of 1 to {MaxLength} visible ASCII characters (letters, digits, "
                + "punctuation; no spaces), for example a UUID.";
            return null;
        }

        return key;
    }

    private static bool IsVisibleAscii(string key)
    {
        foreach (var c in key)
        {
            if (c is < '!' or > '~')
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>
    /// What a retry must repeat: SHA-256 of the title and the body, NUL between them (neither may hold one, so no other
    /// pair gives the same bytes). Of the parsed fields, not the raw JSON: a client that serializes the same document with
    /// other spacing or field order is still retrying. A field added to <see cref="DocumentInput"/> belongs in it too.
    /// </summary>
    public static byte[] RequestHash(DocumentInput input)
    {
        ArgumentNullException.ThrowIfNull(input);
        return SHA256.HashData(Encoding.UTF8.GetBytes($"{input.Title}\0{input.Body}"));
    }
}
