using System;
using System.Collections.Generic;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Npgsql;
using NpgsqlTypes;
using ScaleOps.Data;
using ScaleOps.Tenancy;

namespace ScaleOps.Rls.Internal;

/// <summary>
/// Chooses the PostgreSQL instance for tenant work: a tenant placed on a shard always uses that shard; other tenants
/// use the shared primary, and their <see cref="TenantDataAccess.ReadOnly"/> work goes to the read replicas in turn,
/// skipping a replica that is down, not a standby, or lagging more than the bound (measured against the primary's WAL
/// position, so a replica cut off from its upstream counts as lagging), and falling back to the primary.
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

    public TenantRouter(
        NpgsqlDataSource primary, IOptions<RlsOptions> options, IOptions<ScaleOpsOptions> coreOptions, ILoggerFactory loggerFactory, TimeProvider time,
        ILogger<TenantRouter> logger, RlsMetrics metrics)
    {
        _primary = primary;
        _options = options.Value;
        _time = time;
        _logger = logger;
        _metrics = metrics;
        foreach (var (name, connectionString) in _options.Shards)
        {
            _shards[name] = RlsDataSources.Build(connectionString, coreOptions.Value, loggerFactory);
        }

        foreach (var (tenant, shard) in _options.TenantPlacements)
        {
            _placements[new TenantId(tenant)] = _shards[shard];
        }

        _replicas = [.. _options.ReplicaConnectionStrings.Select(cs => new Replica(RlsDataSources.Build(cs, coreOptions.Value, loggerFactory)))];
    }

    /// <summary>The shard data sources (for start-up work such as installing the context procedure).</summary>
    public IReadOnlyDictionary<string, NpgsqlDataSource> Shards => _shards;

    /// <summary>
    /// The database a tenant's rows live in: its shard when placed, otherwise the shared primary (whose replicas serve
    /// copies of the same rows). With no tenant, the shared primary.
    /// </summary>
    public NpgsqlDataSource HomeOf(TenantId? tenant) =>
        tenant is { } t && _placements.TryGetValue(t, out var shard) ? shard : _primary;

    /// <summary>Names a <see cref="HomeOf"/> result for messages: <c>shard 'whales'</c> or <c>the shared database</c>.</summary>
    public string DescribeHome(NpgsqlDataSource home)
    {
        foreach (var (name, shard) in _shards)
        {
            if (ReferenceEquals(shard, home))
            {
                return $"shard '{name}'";
            }
        }

        return "the shared database";
    }

    /// <summary>
    /// Where <paramref name="tenant"/>'s work of this kind goes: its shard when placed; otherwise the shared primary, or for
    /// <see cref="TenantDataAccess.ReadOnly"/> a healthy replica of it (the primary when none is). No tenant: not placed.
    /// </summary>
    public ValueTask<NpgsqlDataSource> SelectAsync(TenantId? tenant, TenantDataAccess access, CancellationToken cancellationToken)
    {
        if (tenant is { } t && _placements.TryGetValue(t, out var shard))
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
        // A clock that went back (an adjusted system clock) re-checks rather than trusting the state until it catches up.
        // A healthy verdict also ends when the replica's data could be older than MaxReplicaLag by now (Trust), so that a
        // long ReplicaCheckInterval never stretches the bound.
        if (state is not null && now >= state.CheckedAt && now - state.CheckedAt < _options.ReplicaCheckInterval
            && (!state.Healthy || now - state.CheckedAt < state.Trust))
        {
            return state.Healthy;
        }

        // Single flight: reads that find the state expired together wait for one check instead of each opening a
        // connection to a replica that may not answer. The check has its own timeout, independent of the callers'.
        Task<bool> check;
        lock (replica)
        {
            if (replica.Check is not { IsCompleted: false } running)
            {
                // Started on the thread pool, so that no part of the check runs under the lock.
                running = Task.Run(() => CheckAsync(replica, now, state), CancellationToken.None);
                replica.Check = running;
            }

            check = running;
        }

        return await check.WaitAsync(cancellationToken).ConfigureAwait(false);
    }

    private async Task<bool> CheckAsync(Replica replica, DateTimeOffset now, ReplicaState? state)
    {
        // Npgsql does not give up on every stage of an open when cancelled (a host that accepts the connection and never
        // answers holds it until the connect timeout), so the check waits for the probe at most ReplicaCheckTimeout and
        // then cancels it, leaving it to end in the background.
        using var cancel = new CancellationTokenSource();
        var probe = ProbeAsync(replica, now, cancel.Token);
        string? problem;
        var trust = TimeSpan.Zero;
        try
        {
            (problem, trust) = await probe.WaitAsync(_options.ReplicaCheckTimeout, _time).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            await cancel.CancelAsync().ConfigureAwait(false);
            problem = $"no answer within ScaleOps:Rls:ReplicaCheckTimeout ({_options.ReplicaCheckTimeout})";
        }

        if (problem is not null && (state is null || state.Healthy))
        {
            RlsLog.ReplicaUnhealthy(_logger, Describe(replica.DataSource), problem);
        }

        replica.State = new ReplicaState(now, problem is null, trust);
        return problem is null;
    }

    // Reads the replica's health: the reason it cannot serve reads (or null), and how long after now its data stays
    // within MaxReplicaLag. Never throws for a replica's failure.
    private async Task<(string? Problem, TimeSpan Trust)> ProbeAsync(Replica replica, DateTimeOffset now, CancellationToken cancellationToken)
    {
        try
        {
            // The primary's position first: a replica that has replayed it is current, whatever its last transaction's age.
            var primaryPosition = await PrimaryWalPositionAsync(cancellationToken).ConfigureAwait(false);
            await using var connection = await replica.DataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
            await using var command = new NpgsqlCommand(RlsSql.ReplicaHealth, connection);
            command.Parameters.Add(new NpgsqlParameter<DateTimeOffset> { TypedValue = now });
            command.Parameters.Add(new NpgsqlParameter<string?> { TypedValue = primaryPosition, NpgsqlDbType = NpgsqlDbType.Text });
            await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            await reader.ReadAsync(cancellationToken).ConfigureAwait(false);
            // A replica reached as a role that bypasses row-level security would show every tenant's rows to every
            // tenant's reads: never routed to (the start-up checks refuse such a role on the primary and shards alike).
            if (reader.GetBoolean(5) && _options.AllowBypassRlsRole && Interlocked.Exchange(ref replica.BypassWarned, 1) == 0)
            {
                RlsLog.ReplicaBypassRoleAllowed(_logger, Describe(replica.DataSource), reader.GetString(6));
            }

            if (reader.GetBoolean(5) && !_options.AllowBypassRlsRole)
            {
                return ($"it connects as role {reader.GetString(6)}, which bypasses row-level security (SUPERUSER or BYPASSRLS): tenant reads there would see every tenant's rows", TimeSpan.Zero);
            }

            // A context the sessions start with (the connection string's Options, a role's or database's default): the
            // transaction-local context falls back to it, so a statement sent without the context would run as it.
            ReadOnlySpan<string> settings = [RlsSettings.TenantId, RlsSettings.UserId, RlsSettings.Roles];
            for (var i = 0; i < settings.Length; i++)
            {
                if (!reader.IsDBNull(7 + i) && reader.GetString(7 + i) is { Length: > 0 } value)
                {
                    return ($"its sessions start with {settings[i]} = '{value}' (the connection string's Options, or a default of role "
                        + $"{reader.GetString(6)} or of the database): a statement sent there without the tenant context would run with it", TimeSpan.Zero);
                }
            }

            return Diagnose(
                standby: reader.GetBoolean(0),
                receiving: reader.GetBoolean(1),
                replayedPrimary: reader.IsDBNull(2) ? null : reader.GetBoolean(2),
                replayedAllReceived: reader.GetBoolean(3),
                lastReplayAge: reader.IsDBNull(4) ? null : reader.GetDouble(4));
        }
        catch (Exception ex) when (ex is NpgsqlException or TimeoutException or InvalidOperationException or OperationCanceledException)
        {
            return ($"unreachable ({ex.Message})", TimeSpan.Zero);
        }
    }

    /// <summary>
    /// A connection to <paramref name="dataSource"/>, a replica <see cref="SelectAsync"/> chose, could not be opened:
    /// the replica counts as unhealthy until its next check, and the read falls back to the primary.
    /// </summary>
    /// <returns>The primary, or null when <paramref name="dataSource"/> is not a replica (the failure is the caller's).</returns>
    public NpgsqlDataSource? ReplicaOpenFailed(NpgsqlDataSource dataSource, Exception exception)
    {
        foreach (var replica in _replicas)
        {
            if (ReferenceEquals(replica.DataSource, dataSource))
            {
                var state = replica.State;
                if (state is null || state.Healthy)
                {
                    RlsLog.ReplicaUnhealthy(_logger, Describe(dataSource), $"a read could not open a connection ({exception.Message})");
                }

                replica.State = new ReplicaState(_time.GetUtcNow(), false, TimeSpan.Zero);
                _metrics.ReplicaFallback();
                RlsLog.ReplicaFallback(_logger);
                return _primary;
            }
        }

        return null;
    }

    // Lag is "how far behind the primary", not "how much is left to replay": a replica cut off from its upstream has
    // nothing left to replay. So: current when it has replayed the primary's position; else its lag is the age of its
    // last replayed transaction (an upper bound on how stale it is). Only when the primary cannot be asked does a
    // running WAL receiver with nothing left to replay count as current. A replica that is current at the check is behind
    // by at most the time since; one lagging by a (within the bound) by at most a plus that time: its verdict holds for
    // MaxReplicaLag, or MaxReplicaLag - a.
    private (string? Problem, TimeSpan Trust) Diagnose(bool standby, bool receiving, bool? replayedPrimary, bool replayedAllReceived, double? lastReplayAge)
    {
        if (!standby)
        {
            return ("it is not a standby (promoted, or not a replica)", TimeSpan.Zero);
        }

        if (replayedPrimary == true || (replayedPrimary is null && receiving && replayedAllReceived))
        {
            return (null, _options.MaxReplicaLag);
        }

        var behind = replayedPrimary == false ? "it has not replayed the primary's WAL position"
            : "the primary's WAL position is unavailable and it " + (receiving ? "has WAL left to replay" : "has no running WAL receiver");
        var upstream = receiving ? "" : "; its WAL receiver is not running (upstream unreachable?)";
        if (lastReplayAge is not { } age)
        {
            return ($"{behind} and has replayed no transaction since it started, so its lag is unknown{upstream}", TimeSpan.Zero);
        }

        return age > _options.MaxReplicaLag.TotalSeconds
            ? ($"{behind}; its last replayed transaction is {age:0.###} s old, beyond ScaleOps:Rls:MaxReplicaLag {_options.MaxReplicaLag}{upstream}", TimeSpan.Zero)
            : (null, _options.MaxReplicaLag - TimeSpan.FromSeconds(Math.Max(0, age)));
    }

    private async ValueTask<string?> PrimaryWalPositionAsync(CancellationToken cancellationToken)
    {
        try
        {
            await using var connection = await _primary.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
            await using var command = new NpgsqlCommand(RlsSql.PrimaryWalPosition, connection);
            return (string?)await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is NpgsqlException or TimeoutException or InvalidOperationException
            || (ex is OperationCanceledException && cancellationToken.IsCancellationRequested))
        {
            RlsLog.PrimaryWalPositionUnavailable(_logger, ex.Message);
            return null;
        }
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

        /// <summary>1 once the router warned that this replica's role bypasses RLS and is used anyway (AllowBypassRlsRole).</summary>
        public int BypassWarned;

        /// <summary>The health check in flight, if any (guarded by locking the replica).</summary>
        public Task<bool>? Check { get; set; }
    }

    /// <summary>A check's verdict; a healthy one holds for <paramref name="Trust"/> after <paramref name="CheckedAt"/> at most.</summary>
    private sealed record ReplicaState(DateTimeOffset CheckedAt, bool Healthy, TimeSpan Trust);
}
