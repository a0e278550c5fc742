using System;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace ScaleOps.Resilience.Internal.RateLimiting;

/// <summary>
/// The Redis connection of the limiter: the host's <see cref="IConnectionMultiplexer"/> when it registered one, else
/// one built (and owned) from <see cref="ResilienceOptions.RedisConnectionString"/> with fail-fast defaults.
/// </summary>
internal sealed class RedisConnection : IAsyncDisposable, IDisposable
{
    private readonly IServiceProvider _services;
    private readonly IOptions<ResilienceOptions> _options;
    private readonly object _gate = new();
    private Task<IConnectionMultiplexer>? _connection;
    private bool _owned;

    public RedisConnection(IServiceProvider services, IOptions<ResilienceOptions> options)
    {
        _services = services;
        _options = options;
    }

    /// <summary>
    /// The database, connecting on first use. A connect that failed (Redis down with <c>abortConnect=true</c>) is not
    /// kept: the next call connects again, so callers treat the failure like any other (failure mode, breaker) and the
    /// limiter recovers once Redis is back.
    /// </summary>
    public ValueTask<IDatabase> GetDatabaseAsync()
    {
        var connection = Connection();
        return connection.IsCompletedSuccessfully ? new ValueTask<IDatabase>(connection.Result.GetDatabase()) : Connected(connection);

        static async ValueTask<IDatabase> Connected(Task<IConnectionMultiplexer> pending) => (await pending.ConfigureAwait(false)).GetDatabase();
    }

    private Task<IConnectionMultiplexer> Connection()
    {
        var current = Volatile.Read(ref _connection);
        if (current is not null && !current.IsFaulted && !current.IsCanceled)
        {
            return current;
        }

        lock (_gate)
        {
            if (_connection is null || _connection.IsFaulted || _connection.IsCanceled)
            {
                _connection = ConnectAsync();
            }

            return _connection;
        }
    }

    private async Task<IConnectionMultiplexer> ConnectAsync()
    {
        var hostOwned = _services.GetService<IConnectionMultiplexer>();
        if (hostOwned is not null)
        {
            return hostOwned;
        }

        _owned = true;
        return await ConnectionMultiplexer.ConnectAsync(Configure(_options.Value.RedisConnectionString!)).ConfigureAwait(false);
    }

    /// <summary>Parses the connection string and adds fail-fast defaults for settings it does not name.</summary>
    internal static ConfigurationOptions Configure(string connectionString)
    {
        var configuration = ConfigurationOptions.Parse(connectionString);
        var named = connectionString.Split(',').Select(p => p.Split('=')[0].Trim()).ToHashSet(StringComparer.OrdinalIgnoreCase);
        if (!named.Contains("abortConnect"))
        {
            configuration.AbortOnConnectFail = false;
        }

        if (!named.Contains("connectTimeout"))
        {
            configuration.ConnectTimeout = 1000;
        }

        if (!named.Contains("syncTimeout"))
        {
            configuration.SyncTimeout = 1000;
        }

        if (!named.Contains("asyncTimeout"))
        {
            configuration.AsyncTimeout = 1000;
        }

        configuration.BacklogPolicy = BacklogPolicy.FailFast;
        return configuration;
    }

    public void Dispose()
    {
        if (_owned && Volatile.Read(ref _connection) is { IsCompletedSuccessfully: true } connection)
        {
            connection.Result.Dispose();
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_owned && Volatile.Read(ref _connection) is { IsCompletedSuccessfully: true } connection)
        {
            await connection.Result.DisposeAsync().ConfigureAwait(false);
        }
    }
}
