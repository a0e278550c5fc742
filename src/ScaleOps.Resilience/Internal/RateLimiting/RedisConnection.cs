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
    private readonly Lazy<Task<IConnectionMultiplexer>> _connection;
    private bool _owned;

    public RedisConnection(IServiceProvider services, IOptions<ResilienceOptions> options)
    {
        _connection = new Lazy<Task<IConnectionMultiplexer>>(async () =>
        {
            var hostOwned = services.GetService<IConnectionMultiplexer>();
            if (hostOwned is not null)
            {
                return hostOwned;
            }

            _owned = true;
            return await ConnectionMultiplexer.ConnectAsync(Configure(options.Value.RedisConnectionString!)).ConfigureAwait(false);
        }, LazyThreadSafetyMode.ExecutionAndPublication);
    }

    public async ValueTask<IDatabase> GetDatabaseAsync()
    {
        var multiplexer = await _connection.Value.ConfigureAwait(false);
        return multiplexer.GetDatabase();
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
        if (_owned && _connection.IsValueCreated && _connection.Value.IsCompletedSuccessfully)
        {
            _connection.Value.Result.Dispose();
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_owned && _connection.IsValueCreated && _connection.Value.IsCompletedSuccessfully)
        {
            await _connection.Value.Result.DisposeAsync().ConfigureAwait(false);
        }
    }
}
