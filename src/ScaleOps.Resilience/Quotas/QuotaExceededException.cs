using System;

namespace ScaleOps.Resilience.Quotas;

/// <summary>A reservation would take a tenant's usage of a resource over its plan's limit; nothing was reserved.</summary>
public sealed class QuotaExceededException : InvalidOperationException
{
    /// <summary>Creates the exception.</summary>
    public QuotaExceededException()
    {
        Resource = string.Empty;
    }

    /// <summary>Creates the exception.</summary>
    /// <param name="message">The message.</param>
    public QuotaExceededException(string message)
        : base(message)
    {
        Resource = string.Empty;
    }

    /// <summary>Creates the exception.</summary>
    /// <param name="message">The message.</param>
    /// <param name="innerException">The cause.</param>
    public QuotaExceededException(string message, Exception innerException)
        : base(message, innerException)
    {
        Resource = string.Empty;
    }

    /// <summary>Creates the exception.</summary>
    /// <param name="resource">The resource.</param>
    /// <param name="limit">The limit.</param>
    /// <param name="usage">The usage before the refused reservation.</param>
    /// <param name="requested">The amount asked for.</param>
    public QuotaExceededException(string resource, long limit, long usage, long requested)
        : base($"Quota exceeded for '{resource}': {usage} used + {requested} requested > limit {limit}.")
    {
        Resource = resource;
        Limit = limit;
        Usage = usage;
        Requested = requested;
    }

    /// <summary>The resource.</summary>
    public string Resource { get; }

    /// <summary>The tenant's limit.</summary>
    public long Limit { get; }

    /// <summary>The usage when the reservation was refused.</summary>
    public long Usage { get; }

    /// <summary>The amount asked for.</summary>
    public long Requested { get; }
}
