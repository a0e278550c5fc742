using System;

namespace ScaleOps.Migrations;

/// <summary>A schema migration could not be applied; the message names the component and script.</summary>
public sealed class MigrationException : Exception
{
    /// <summary>Creates the exception.</summary>
    public MigrationException()
    {
    }

    /// <summary>Creates the exception.</summary>
    /// <param name="message">The message.</param>
    public MigrationException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception.</summary>
    /// <param name="message">The message.</param>
    /// <param name="innerException">The cause.</param>
    public MigrationException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
