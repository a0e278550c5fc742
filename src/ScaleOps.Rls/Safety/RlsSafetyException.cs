using System;
using System.Collections.Generic;

namespace ScaleOps.Rls.Safety;

/// <summary>Thrown at start-up when row-level security would not protect the tenants; the message lists every problem.</summary>
public sealed class RlsSafetyException : Exception
{
    /// <summary>Creates the exception.</summary>
    public RlsSafetyException()
        : base("Row-level security is not safe.")
    {
        Problems = [];
    }

    /// <summary>Creates the exception.</summary>
    /// <param name="message">The message.</param>
    public RlsSafetyException(string message)
        : base(message)
    {
        Problems = [message];
    }

    /// <summary>Creates the exception.</summary>
    /// <param name="message">The message.</param>
    /// <param name="innerException">The cause.</param>
    public RlsSafetyException(string message, Exception innerException)
        : base(message, innerException)
    {
        Problems = [message];
    }

    /// <summary>Creates the exception from a list of problems.</summary>
    /// <param name="problems">One sentence per problem.</param>
    public RlsSafetyException(IReadOnlyList<string> problems)
        : base("Row-level security is not safe: " + string.Join(" | ", problems ?? []))
    {
        Problems = problems ?? [];
    }

    /// <summary>One sentence per problem.</summary>
    public IReadOnlyList<string> Problems { get; }
}
