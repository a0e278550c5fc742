using System;
using System.Collections.Generic;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Npgsql;
using ScaleOps.Data;
using ScaleOps.Tenancy;

namespace ScaleOps.Rls.Internal;

/// <summary>
/// Chooses the PostgreSQL instance for tenant work: a tenant placed on a shard always uses that shard; other tenants
/// use the shared primary, and their <see cref="TenantDataAccess.ReadOnly"/> work goes to the read replicas in turn,
/// skipping a replica that is down, not a standby, or lagging more than the bound, and falling back to the primary.
/// </summary>
internal sealed class TenantRouter : IAsyncDisposable, IDisposable
{
    private readonly NpgsqlDataSource _primary;
    private readonly Dictionary<string, NpgsqlDataSource> _shards = new(StringComparer.Ordinal);
    private readonly Dictionary<TenantId, NpgsqlDataSource> _placements = [];
    private readonly Replica[] _replicas;
    private readonly RlsOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly RlsMetrics _metrics;
    private int _next = -1;

    public TenantRouter(NpgsqlDataSource primary, IOptions<RlsOptions> options, TimeProvider time, ILogger<TenantRouter> logger, RlsMetrics metrics)
    {
        _primary = primary;
        _options = options.Value;
        _time = time;
        _logger = logger;
        _metrics = metrics;
        foreach (var (name, connectionString) in _options.Shards)
        {
            _shards[name] = NpgsqlDataSource.Create(connectionString);
        }

        foreach (var (tenant, shard) in _options.TenantPlacements)
        {
            _placements[new TenantId(tenant)] = _shards[shard];
        }

        _replicas = [.. _options.ReplicaConnectionStrings.Select(cs => new Replica(NpgsqlDataSource.Create(cs)))];
    }

    /// <summary>The shard data sources (for start-up work such as installing the context procedure).</summary>
    public IReadOnlyDictionary<string, NpgsqlDataSource> Shards => _shards;

    public ValueTask<NpgsqlDataSource> SelectAsync(TenantId tenant, TenantDataAccess access, CancellationToken cancellationToken)
    {
        if (_placements.TryGetValue(tenant, out var shard))
        {
            return ValueTask.FromResult(shard);
        }

        if (access != TenantDataAccess.ReadOnly || _replicas.Length == 0)
        {
            return ValueTask.FromResult(_primary);
        }

        return SelectReplicaAsync(cancellationToken);
    }

    private async ValueTask<NpgsqlDataSource> SelectReplicaAsync(CancellationToken cancellationToken)
    {
        var start = (int)((uint)Interlocked.Increment(ref _next) % (uint)_replicas.Length);
        for (var i = 0; i < _replicas.Length; i++)
        {
            var replica = _replicas[(start + i) % _replicas.Length];
            if (await IsHealthyAsync(replica, cancellationToken).ConfigureAwait(false))
            {
                return replica.DataSource;
            }
        }

        _metrics.ReplicaFallback();
        RlsLog.ReplicaFallback(_logger);
        return _primary;
    }

    private async ValueTask<bool> IsHealthyAsync(Replica replica, CancellationToken cancellationToken)
    {
        var now = _time.GetUtcNow();
        var state = replica.State;
        if (state is not null && now - state.CheckedAt < _options.ReplicaCheckInterval)
        {
            return state.Healthy;
        }

        string? problem;
        try
        {
            await using var connection = await replica.DataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
            await using var command = new NpgsqlCommand(RlsSql.ReplicaHealth, connection);
            command.Parameters.Add(new NpgsqlParameter<DateTimeOffset> { TypedValue = now });
            await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            await reader.ReadAsync(cancellationToken).ConfigureAwait(false);
            var inRecovery = reader.GetBoolean(0);
            var lag = reader.IsDBNull(1) ? (double?)null : reader.GetDouble(1);
            problem = !inRecovery ? "it is not a standby (promoted, or not a replica)"
                : lag > _options.MaxReplicaLag.TotalSeconds ? $"its replay lag {lag:0.###} s exceeds ScaleOps:Rls:MaxReplicaLag {_options.MaxReplicaLag}"
                : null;
        }
        catch (Exception ex) when (ex is NpgsqlException or TimeoutException or InvalidOperationException)
        {
            problem = $"unreachable ({ex.Message})";
        }

        if (problem is not null && (state is null || state.Healthy))
        {
            RlsLog.ReplicaUnhealthy(_logger, Describe(replica.DataSource), problem);
        }

        replica.State = new ReplicaState(now, problem is null);
        return problem is null;
    }

    private static string Describe(NpgsqlDataSource dataSource)
    {
        var builder = new NpgsqlConnectionStringBuilder(dataSource.ConnectionString);
        return $"{builder.Host}:{builder.Port}";
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var shard in _shards.Values)
        {
            await shard.DisposeAsync().ConfigureAwait(false);
        }

        foreach (var replica in _replicas)
        {
            await replica.DataSource.DisposeAsync().ConfigureAwait(false);
        }
    }

    public void Dispose()
    {
        foreach (var shard in _shards.Values)
        {
            shard.Dispose();
        }

        foreach (var replica in _replicas)
        {
            replica.DataSource.Dispose();
        }
    }

    private sealed class Replica(NpgsqlDataSource dataSource)
    {
        public NpgsqlDataSource DataSource { get; } = dataSource;

        public ReplicaState? State { get; set; }
    }

    private sealed record ReplicaState(DateTimeOffset CheckedAt, bool Healthy);
}
