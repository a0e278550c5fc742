using System.Collections.Generic;
using System.Threading;
using System.Threading.Tasks;
using Npgsql;

namespace ScaleOps.Jobs;

/// <summary>
/// Enqueues jobs. Each call is one round trip. The overloads that take a connection enqueue inside the caller's
/// transaction (the outbox pattern): the job exists only if that transaction commits, and workers are woken at commit.
/// With EF Core, pass <c>(NpgsqlConnection)db.Database.GetDbConnection()</c> and
/// <c>(NpgsqlTransaction?)db.Database.CurrentTransaction?.GetDbTransaction()</c>.
/// </summary>
// RS0027: the optional-parameter overloads are the everyday calls; the connection overloads come first in their
// parameter lists by design (the transaction is the point), so they take every argument explicitly.
#pragma warning disable RS0027
public interface IJobClient
{
    /// <summary>Enqueues one job in its own transaction.</summary>
    /// <typeparam name="TPayload">The payload type; its kind comes from <see cref="JobKindAttribute"/> or its full name.</typeparam>
    /// <param name="payload">The payload, serialized with System.Text.Json (<see cref="JobsOptions.SerializerOptions"/>).</param>
    /// <param name="options">Queue, priority, timing, tenant, unique key...; null for the defaults.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>The job id, or <see langword="null"/> when <see cref="JobOptions.UniqueKey"/> matched a pending or running job.</returns>
    /// <exception cref="System.ArgumentException">The options are invalid; the message names the option.</exception>
    Task<long?> EnqueueAsync<TPayload>(TPayload payload, JobOptions? options = null, CancellationToken cancellationToken = default);

    /// <summary>Enqueues one job on the caller's open connection, inside its transaction if one is given.</summary>
    /// <typeparam name="TPayload">The payload type.</typeparam>
    /// <param name="connection">An open connection to the database that holds the ScaleOps schema.</param>
    /// <param name="transaction">The caller's transaction on <paramref name="connection"/>, or null.</param>
    /// <param name="payload">The payload.</param>
    /// <param name="options">The options; null for the defaults.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>The job id, or <see langword="null"/> for a dropped duplicate.</returns>
    Task<long?> EnqueueAsync<TPayload>(
        NpgsqlConnection connection, NpgsqlTransaction? transaction, TPayload payload, JobOptions? options,
        CancellationToken cancellationToken);

    /// <summary>
    /// Enqueues a batch of jobs of one kind with the same options, as one statement (the payloads travel as one array).
    /// A <see cref="JobOptions.UniqueKey"/> applies to the whole batch: at most one job of it is inserted.
    /// </summary>
    /// <typeparam name="TPayload">The payload type.</typeparam>
    /// <param name="payloads">The payloads; at most 1,000,000.</param>
    /// <param name="options">The options shared by every job; null for the defaults.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>The number of jobs inserted.</returns>
    Task<int> EnqueueManyAsync<TPayload>(
        IReadOnlyCollection<TPayload> payloads, JobOptions? options = null, CancellationToken cancellationToken = default);

    /// <summary>Enqueues a batch of jobs on the caller's open connection, inside its transaction if one is given.</summary>
    /// <typeparam name="TPayload">The payload type.</typeparam>
    /// <param name="connection">An open connection to the database that holds the ScaleOps schema.</param>
    /// <param name="transaction">The caller's transaction on <paramref name="connection"/>, or null.</param>
    /// <param name="payloads">The payloads.</param>
    /// <param name="options">The options shared by every job; null for the defaults.</param>
    /// <param name="cancellationToken">
    /// Cancels the call. Without a transaction (given, or begun on the connection) the batch runs in one of its own, so a
    /// cancelled batch commits nothing. A batch without a unique key goes in by COPY, which Npgsql cancels by closing the
    /// connection: the caller's transaction ends with it. A batch larger than the socket buffers whose server is blocked
    /// (a lock) fills the socket and then waits in a write that does not see the token, until the command timeout.
    /// </param>
    /// <returns>The number of jobs inserted.</returns>
    Task<int> EnqueueManyAsync<TPayload>(
        NpgsqlConnection connection, NpgsqlTransaction? transaction, IReadOnlyCollection<TPayload> payloads,
        JobOptions? options, CancellationToken cancellationToken);
}
#pragma warning restore RS0027
