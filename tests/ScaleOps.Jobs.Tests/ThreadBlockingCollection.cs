namespace ScaleOps.Jobs.Tests;

/// <summary>
/// Test classes that block thread-pool threads on purpose (handlers that block their thread, a batch enqueue whose
/// synchronous COPY writes wait for the server) run one after another, not beside each other. Run together under load,
/// EventLogTests' blocked-handler test missed its event 3021 within its 30 s deadline in 4 of 6 runs (never when the
/// classes ran apart): with both of this machine's minimum pool threads (one per core) blocked, the watchdog that reports
/// the stall waited for a thread.
/// </summary>
[CollectionDefinition(Name)]
public sealed class ThreadBlockingCollection
{
    public const string Name = "Tests that block thread-pool threads";
}
