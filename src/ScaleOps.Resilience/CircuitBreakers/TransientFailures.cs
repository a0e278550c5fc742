using System;
using System.IO;
using System.Net.Http;
using System.Net.Sockets;
using System.Threading;
using Npgsql;
using Polly.CircuitBreaker;
using ScaleOps.Internal;
using StackExchange.Redis;

namespace ScaleOps.Resilience.CircuitBreakers;

/// <summary>
/// Which failures count against a breaker by default: those that say a dependency is unreachable or overloaded, never
/// those that say the request itself is wrong (constraint violations, syntax, authentication) or that its caller
/// cancelled it. A cancellation the caller did not ask for (an <see cref="HttpClient.Timeout"/>, which throws
/// <see cref="System.Threading.Tasks.TaskCanceledException"/>) is a timeout, and counts. The registry's breakers and retries use
/// <see cref="IsTransient(Exception, CancellationToken)"/> with the caller's token, and count returned (not thrown)
/// <see cref="HttpResponseMessage"/> results by <see cref="IsTransient(HttpResponseMessage)"/>.
/// </summary>
public static class TransientFailures
{
    /// <summary>
    /// Whether <paramref name="exception"/> counts as a transient failure of a dependency. Without the caller's token a
    /// cancellation counts only when it says it is a timeout (<see cref="HttpClient.Timeout"/>: an
    /// <see cref="OperationCanceledException"/> whose inner exception is a <see cref="TimeoutException"/>); prefer
    /// <see cref="IsTransient(Exception, CancellationToken)"/> where the token is known.
    /// </summary>
    /// <param name="exception">The failure.</param>
    /// <returns>
    /// <see langword="true"/> for connection failures, timeouts, overload and server shutdown; of Redis error replies, only
    /// those about the server as a whole (<c>LOADING</c>, <c>BUSY</c>, <c>MASTERDOWN</c>, <c>CLUSTERDOWN</c>,
    /// <c>TRYAGAIN</c>, <c>READONLY</c>, <c>OOM</c>), never those about the command or its key (<c>WRONGTYPE</c>, script errors).
    /// </returns>
    public static bool IsTransient(Exception exception) => exception switch
    {
        null => false,
        OperationCanceledException { InnerException: TimeoutException } => true,
        OperationCanceledException => false,
        BrokenCircuitException => false,
        PostgresException pg => IsTransientSqlState(pg.SqlState),
        NpgsqlException npgsql => npgsql.IsTransient,
        RedisServerException redis => RedisErrorReplies.IsServerWide(redis),
        RedisConnectionException or RedisTimeoutException => true,
        RedisException => false,
        HttpRequestException http => http.StatusCode is null or >= System.Net.HttpStatusCode.InternalServerError
            or System.Net.HttpStatusCode.RequestTimeout or System.Net.HttpStatusCode.TooManyRequests,
        TimeoutException or SocketException or IOException => true,
        _ => false,
    };

    /// <summary>
    /// Whether <paramref name="exception"/> counts as a transient failure of a dependency, knowing the caller's token: a
    /// cancellation the caller asked for (<paramref name="callerToken"/> is cancelled) never counts; any other
    /// cancellation (a client timeout such as <see cref="HttpClient.Timeout"/>, a token linked to a dependency's own
    /// deadline) does. Other exceptions as <see cref="IsTransient(Exception)"/>.
    /// </summary>
    /// <param name="exception">The failure.</param>
    /// <param name="callerToken">The token the caller passed to the call.</param>
    /// <returns><see langword="true"/> for connection failures, timeouts, overload, server shutdown and cancellations the caller did not ask for.</returns>
    public static bool IsTransient(Exception exception, CancellationToken callerToken) => exception is OperationCanceledException
        ? !callerToken.IsCancellationRequested
        : IsTransient(exception);

    /// <summary>Whether a returned HTTP response says the dependency is failing or overloaded.</summary>
    /// <param name="response">The response.</param>
    /// <returns><see langword="true"/> for 5xx, 408 (Request Timeout) and 429 (Too Many Requests).</returns>
    public static bool IsTransient(HttpResponseMessage response)
    {
        ArgumentNullException.ThrowIfNull(response);
        return response.StatusCode is >= System.Net.HttpStatusCode.InternalServerError
            or System.Net.HttpStatusCode.RequestTimeout or System.Net.HttpStatusCode.TooManyRequests;
    }

    /// <summary>The classification of a breaker or retry outcome: a thrown failure, or a returned failing HTTP response.</summary>
    internal static bool IsTransient(Exception? exception, object? result, CancellationToken callerToken) => exception is not null
        ? IsTransient(exception, callerToken)
        : result is HttpResponseMessage response && IsTransient(response);

    /// <summary>Whether a PostgreSQL SQLSTATE names a transient condition.</summary>
    /// <param name="sqlState">The five-character SQLSTATE.</param>
    /// <returns>
    /// <see langword="true"/> for class 08 (connection), 40001 (serialization), 40P01 (deadlock), class 53 (insufficient
    /// resources, including too many connections), 57P01-57P03 (shutdown, cannot connect now) and 58000/58030 (I/O).
    /// </returns>
    public static bool IsTransientSqlState(string? sqlState) => sqlState is not null && (sqlState.StartsWith("08", StringComparison.Ordinal)
        || sqlState.StartsWith("53", StringComparison.Ordinal)
        || sqlState is "40001" or "40P01" or "57P01" or "57P02" or "57P03" or "58000" or "58030");
}
