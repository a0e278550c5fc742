using System;

namespace ScaleOps.Caching;

/// <summary>A value cannot be cached: it cannot be serialized, or its payload is over the size limit.</summary>
public sealed class CacheSerializationException : Exception
{
    /// <summary>Creates the exception.</summary>
    public CacheSerializationException()
    {
    }

    /// <summary>Creates the exception.</summary>
    /// <param name="message">The message.</param>
    public CacheSerializationException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception.</summary>
    /// <param name="message">The message.</param>
    /// <param name="innerException">The serializer's error.</param>
    public CacheSerializationException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
