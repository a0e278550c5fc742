using System.Text;

namespace ScaleOps.Jobs.Internal;

/// <summary>
/// Text the worker writes to text columns (error messages). PostgreSQL text cannot hold NUL, and Npgsql's strict UTF-8
/// encoder throws on a lone UTF-16 surrogate before anything is sent: either would make the write itself fail.
/// </summary>
internal static class JobText
{
    /// <summary>
    /// NUL becomes the two characters <c>\0</c>, a lone surrogate becomes U+FFFD, and the result is cut to at most
    /// <paramref name="maxLength"/> characters without splitting a surrogate pair.
    /// </summary>
    public static string Storable(string text, int maxLength)
    {
        StringBuilder? fixedText = null;
        for (var i = 0; i < text.Length; i++)
        {
            var c = text[i];
            string? replacement = null;
            if (c == '\0')
            {
                replacement = "\\0";
            }
            else if (char.IsHighSurrogate(c) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1]))
            {
                fixedText?.Append(c).Append(text[i + 1]);
                i++;
                continue;
            }
            else if (char.IsSurrogate(c))
            {
                replacement = "\uFFFD";
            }

            if (replacement is not null)
            {
                fixedText ??= new StringBuilder(text.Length + 16).Append(text, 0, i);
                fixedText.Append(replacement);
            }
            else
            {
                fixedText?.Append(c);
            }
        }

        var result = fixedText?.ToString() ?? text;
        if (result.Length <= maxLength)
        {
            return result;
        }

        // Every surrogate left is half of a pair: a high one last would lose its low half.
        var cut = char.IsHighSurrogate(result[maxLength - 1]) ? maxLength - 1 : maxLength;
        return result[..cut];
    }

    /// <summary>Whether <paramref name="text"/> can be sent to a text column as it is (no NUL, no lone surrogate).</summary>
    public static bool IsStorable(string text)
    {
        for (var i = 0; i < text.Length; i++)
        {
            var c = text[i];
            if (c == '\0')
            {
                return false;
            }

            if (char.IsHighSurrogate(c) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1]))
            {
                i++;
            }
            else if (char.IsSurrogate(c))
            {
                return false;
            }
        }

        return true;
    }
}
