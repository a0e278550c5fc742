using System;
using System.IO;
using System.Net.Http;
using System.Net.Sockets;
using Npgsql;
using Polly.CircuitBreaker;
using StackExchange.Redis;

namespace ScaleOps.Resilience.CircuitBreakers;

/// <summary>
/// Which failures count against a breaker by default: those that say a dependency is unreachable or overloaded, never
/// those that say the request itself is wrong (constraint violations, syntax, authentication) or that it was cancelled.
/// </summary>
public static class TransientFailures
{
    /// <summary>Whether <paramref name="exception"/> counts as a transient failure of a dependency.</summary>
    /// <param name="exception">The failure.</param>
    /// <returns><see langword="true"/> for connection failures, timeouts, overload and server shutdown.</returns>
    public static bool IsTransient(Exception exception) => exception switch
    {
        null => false,
        OperationCanceledException => false,
        BrokenCircuitException => false,
        PostgresException pg => IsTransientSqlState(pg.SqlState),
        NpgsqlException npgsql => npgsql.IsTransient,
        RedisServerException redis => redis.Message.StartsWith("LOADING", StringComparison.Ordinal)
            || redis.Message.StartsWith("BUSY", StringComparison.Ordinal)
            || redis.Message.StartsWith("TRYAGAIN", StringComparison.Ordinal)
            || redis.Message.StartsWith("CLUSTERDOWN", StringComparison.Ordinal)
            || redis.Message.StartsWith("MASTERDOWN", StringComparison.Ordinal),
        RedisConnectionException or RedisTimeoutException => true,
        RedisException => false,
        HttpRequestException http => http.StatusCode is null or >= System.Net.HttpStatusCode.InternalServerError
            or System.Net.HttpStatusCode.RequestTimeout or System.Net.HttpStatusCode.TooManyRequests,
        TimeoutException or SocketException or IOException => true,
        _ => false,
    };

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
