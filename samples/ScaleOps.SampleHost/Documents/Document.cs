using System;

namespace ScaleOps.SampleHost.Documents;

/// <summary>A document as the HTTP contract returns it.</summary>
public sealed record Document(Guid Id, string Title, string Body, DateTimeOffset CreatedAt, DateTimeOffset UpdatedAt, DateTimeOffset? IndexedAt);

/// <summary>The body of <c>POST</c> and <c>PUT /documents</c>.</summary>
public sealed record DocumentInput(string? Title, string? Body)
{
    public const int MaxTitleLength = 200;
    public const int MaxBodyBytes = 64 * 1024;

    /// <summary>The problem with this input, or null when valid.</summary>
    public string? Problem()
    {
        if (string.IsNullOrEmpty(Title) || Title.Length > MaxTitleLength)
        {
            return $"\"title\" must be 1 to {MaxTitleLength} characters.";
        }

        if (Body is null)
        {
            return "\"body\" is required (it may be empty).";
        }

        if (System.Text.Encoding.UTF8.GetByteCount(Body) > MaxBodyBytes)
        {
            return $"\"body\" must be at most {MaxBodyBytes} bytes of UTF-8.";
        }

        if (Title.Contains('\0', StringComparison.Ordinal) || Body.Contains('\0', StringComparison.Ordinal))
        {
            return "\"title\" and \"body\" cannot contain NUL characters.";
        }

        return null;
    }
}

/// <summary>A page of documents.</summary>
public sealed record DocumentPage(Document[] Items, string? NextCursor);

/// <summary>
/// The answer of <c>GET /documents/stats</c>: the tenant's document count and when it was counted (the time the cache's
/// factory ran, so a client sees which run it was served).
/// </summary>
public sealed record DocumentStats(long Documents, DateTimeOffset CountedAt);
