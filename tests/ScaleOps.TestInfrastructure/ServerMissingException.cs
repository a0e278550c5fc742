using System;

namespace ScaleOps.TestInfrastructure;

/// <summary>A test needs a server that is not running; the message says how to start it. Tests never skip.</summary>
public sealed class ServerMissingException : Exception
{
    /// <summary>Creates the exception.</summary>
    public ServerMissingException()
    {
    }

    /// <summary>Creates the exception.</summary>
    /// <param name="message">The message, with the fixing command.</param>
    public ServerMissingException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception.</summary>
    /// <param name="message">The message, with the fixing command.</param>
    /// <param name="innerException">The connection failure.</param>
    public ServerMissingException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
