using System;

namespace ScaleOps.Internal;

/// <summary>Checks that text has a UTF-8 form, which PostgreSQL text, identifiers and hashed names need.</summary>
internal static class Utf16
{
    /// <summary>The index of the first surrogate without its pair, or -1 when every surrogate is paired.</summary>
    public static int FirstUnpairedSurrogate(ReadOnlySpan<char> value)
    {
        for (var i = 0; i < value.Length; i++)
        {
            if (char.IsHighSurrogate(value[i]) && i + 1 < value.Length && char.IsLowSurrogate(value[i + 1]))
            {
                i++;
            }
            else if (char.IsSurrogate(value[i]))
            {
                return i;
            }
        }

        return -1;
    }
}
