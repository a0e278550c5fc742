using System;

namespace ScaleOps.Partitioning.Archive;

/// <summary>
/// An archive was asked for a partition whose period has not ended (the current one, one ahead, or the default):
/// archiving removes the partition, so its period's writes would fail and its later rows would not be archived. A
/// state conflict, unlike a table or partition that does not exist (a plain <see cref="InvalidOperationException"/>).
/// </summary>
public sealed class PartitionNotClosedException : InvalidOperationException
{
    /// <summary>Creates the exception.</summary>
    /// <param name="partition">The partition.</param>
    /// <param name="message">What happened.</param>
    public PartitionNotClosedException(string partition, string message)
        : base(message)
    {
        Partition = partition;
    }

    /// <summary>The partition that is still open.</summary>
    public string Partition { get; }
}
