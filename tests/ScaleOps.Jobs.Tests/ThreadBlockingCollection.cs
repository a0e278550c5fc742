namespace ScaleOps.Jobs.Tests;

/// <summary>
/// Test classes that block thread-pool threads on purpose (handlers that block their thread, a batch enqueue whose
/// synchronous COPY writes wait for the server) run one after another and alone, with no other class beside them.
/// Beside each other under load, EventLogTests' blocked-handler test missed its event 3021 within its 30 s deadline in 4
/// of 6 runs (never when the classes ran apart), and beside the rest of the project in 1 of 2 full runs: with both of
/// this machine's minimum pool threads (one per core) blocked, the watchdog that reports the stall waited for a thread.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class ThreadBlockingCollection
{
    public const string Name = "Tests that block thread-pool threads";
}
