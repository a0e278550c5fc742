using System;

namespace ScaleOps.Tenancy;

/// <summary>Thrown when tenant-scoped work runs with no ambient tenant.</summary>
public sealed class TenantRequiredException : InvalidOperationException
{
    /// <summary>Creates the exception with the default message.</summary>
    public TenantRequiredException()
        : base("No tenant is set: run this inside ITenantContext.BeginScope(tenant). The job runner begins it for each job; in a web app, begin it per request in a middleware after authentication, with the tenant from the validated token's claims, never from a header the client chooses (the ScaleOps.Rls README shows one).")
    {
    }

    /// <summary>Creates the exception.</summary>
    /// <param name="message">The message.</param>
    public TenantRequiredException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception.</summary>
    /// <param name="message">The message.</param>
    /// <param name="innerException">The cause.</param>
    public TenantRequiredException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
