using System;
using System.Collections.Generic;
using System.Linq;
using System.Threading.Tasks;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using Npgsql;
using ScaleOps.Data;
using ScaleOps.Diagnostics;
using ScaleOps.Rls.Tests.Support;
using ScaleOps.Tenancy;
using ScaleOps.TestInfrastructure;

namespace ScaleOps.Rls.Tests.Routing;

/// <summary>
/// Read/write splitting against the real streaming replica of the test server (scripts/servers.d/pgreplica.sh).
/// The one test that pauses replay resumes it in a finally block; no other class uses the replica.
/// </summary>
public partial class ReplicaRoutingTests(RlsDatabase database) : IClassFixture<RlsDatabase>, IAsyncLifetime
{
    private string Replica(string? applicationName = null) =>
        new NpgsqlConnectionStringBuilder(PostgresReplicaServer.ConnectionStringFor(database.Name, RlsDatabase.AppRole))
        {
            ApplicationName = applicationName,
        }.ToString();

    public async Task InitializeAsync()
    {
        // The class's database was just cloned on the primary; wait until the replica has replayed it.
        await TestSignal.UntilAsync(async () =>
        {
            try
            {
                await using var connection = new NpgsqlConnection(PostgresReplicaServer.ConnectionStringFor(database.Name));
                await connection.OpenAsync();
                await using var command = new NpgsqlCommand("SELECT count(*) FROM documents", connection);
                return (long)(await command.ExecuteScalarAsync())! >= 210;
            }
            catch (PostgresException)
            {
                return false;
            }
        }, "the replica to replay the test database");
    }

    public Task DisposeAsync() => Task.CompletedTask;

    private ServiceProvider Services(TimeSpan maxLag, params string[] replicas) => Services(maxLag, null, replicas);

    private ServiceProvider Services(TimeSpan maxLag, TimeProvider? time, params string[] replicas) => RlsDatabase.Services(database.AppConnectionString(), o =>
    {
        foreach (var replica in replicas)
        {
            o.ReplicaConnectionStrings.Add(replica);
        }

        o.MaxReplicaLag = maxLag;
        o.ReplicaCheckInterval = TimeSpan.Zero;
        o.ReplicaCheckTimeout = TimeSpan.FromSeconds(30); // routing, not the timeout, is under test: a slow machine must not fail it
    }, time);

    /// <summary>
    /// The replica behind a local TCP proxy (application name "proxied", no pooling), checked once a minute: once a read
    /// found it healthy, the proxy can refuse its connections while the router still counts it healthy.
    /// </summary>
    private (FaultyTcpProxy Proxy, ServiceProvider Services) ProxiedReplica()
    {
        var replica = new NpgsqlConnectionStringBuilder(Replica("proxied"));
        var proxy = new FaultyTcpProxy(replica.Host!, replica.Port, FaultyTcpProxy.ProxyMode.Forward);
        replica.Port = proxy.Port;
        replica.Pooling = false;
        return (proxy, RlsDatabase.Services(database.AppConnectionString(), o =>
        {
            o.ReplicaConnectionStrings.Add(replica.ToString());
            o.MaxReplicaLag = TimeSpan.FromMinutes(1);
            o.ReplicaCheckInterval = TimeSpan.FromMinutes(1);
            o.ReplicaCheckTimeout = TimeSpan.FromSeconds(30);
        }));
    }

    private static async Task<(bool Standby, string App, long Rows)> WhereAsync(ITenantDataSource data, TenantDataAccess access)
    {
        await using var connection = await data.OpenConnectionAsync(access);
        await using var batch = connection.CreateBatch(
            "SELECT pg_is_in_recovery(), current_setting('application_name'), (SELECT count(*) FROM documents)");
        await using var reader = await batch.ExecuteReaderAsync();
        await reader.ReadAsync();
        return (reader.GetBoolean(0), reader.GetString(1), reader.GetInt64(2));
    }

    [Fact]
    public async Task Reads_go_to_the_replica_round_robin_and_writes_to_the_primary_with_rls_on_both()
    {
        await using var services = Services(TimeSpan.FromMinutes(1), Replica("r1"), Replica("r2"));
        var data = services.GetRequiredService<ITenantDataSource>();
        using var scope = services.GetRequiredService<ITenantContext>().BeginScope(new TenantId("t04"));

        var seen = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < 4; i++)
        {
            var read = await WhereAsync(data, TenantDataAccess.ReadOnly);
            Assert.True(read.Standby);
            Assert.Equal(4, read.Rows);
            seen.Add(read.App);
        }

        Assert.Equal(["r1", "r2"], seen);
        var write = await WhereAsync(data, TenantDataAccess.ReadWrite);
        Assert.False(write.Standby);
        Assert.Equal(4, write.Rows);
        await using var tx = await data.BeginTransactionAsync();
        await using var command = tx.CreateCommand("SELECT pg_is_in_recovery()");
        Assert.Equal(false, await command.ExecuteScalarAsync());
    }

    [Fact]
    public async Task A_down_replica_or_a_primary_posing_as_one_is_skipped_and_reads_fall_back_to_the_primary()
    {
        var down = "Host=127.0.0.1;Port=1;Username=scaleops_rls_app;Database=postgres;Timeout=2";
        var notStandby = new NpgsqlConnectionStringBuilder(database.AppConnectionString()) { ApplicationName = "fake" }.ToString();
        await using var services = Services(TimeSpan.FromMinutes(1), down, notStandby, Replica("real"));
        using var fallbacks = new MetricCollector<long>(services.GetRequiredService<ScaleOpsMetrics>().Meter, "scaleops.rls.replica.fallbacks");
        var data = services.GetRequiredService<ITenantDataSource>();
        using var scope = services.GetRequiredService<ITenantContext>().BeginScope(new TenantId("t02"));
        for (var i = 0; i < 3; i++)
        {
            var read = await WhereAsync(data, TenantDataAccess.ReadOnly);
            Assert.True(read.Standby);
            Assert.Equal("real", read.App);
        }

        Assert.Empty(fallbacks.GetMeasurementSnapshot());

        await using var none = Services(TimeSpan.FromMinutes(1), down, notStandby);
        using var noneFallbacks = new MetricCollector<long>(none.GetRequiredService<ScaleOpsMetrics>().Meter, "scaleops.rls.replica.fallbacks");
        var primary = await WhereAsync(none.GetRequiredService<ITenantDataSource>(), TenantDataAccess.ReadOnly);
        Assert.False(primary.Standby);
        Assert.Equal(2, primary.Rows);
        Assert.Equal(1, Assert.Single(noneFallbacks.GetMeasurementSnapshot()).Value);
    }

    [Fact]
    public async Task A_replica_that_never_answers_is_checked_once_within_its_timeout_while_reads_use_the_primary()
    {
        // A host that accepts connections and never answers stalls an open until its connect timeout (a minute here).
        await using var blackHole = new FaultyTcpProxy("127.0.0.1", 1, FaultyTcpProxy.ProxyMode.BlackHole);
        var silent = $"Host=127.0.0.1;Port={blackHole.Port};Username={RlsDatabase.AppRole};Database={database.Name};Timeout=60";
        await using var services = RlsDatabase.Services(database.AppConnectionString(), o =>
        {
            o.ReplicaConnectionStrings.Add(silent);
            o.ReplicaCheckInterval = TimeSpan.FromMinutes(1);
            o.ReplicaCheckTimeout = TimeSpan.FromSeconds(2);
        });
        var data = services.GetRequiredService<ITenantDataSource>();
        using var scope = services.GetRequiredService<ITenantContext>().BeginScope(new TenantId("t02"));

        // Eight reads find the replica unchecked at once: one check, bounded by its own timeout, then the primary.
        var reads = await Task.WhenAll(Enumerable.Range(0, 8).Select(_ => WhereAsync(data, TenantDataAccess.ReadOnly)))
            .WaitAsync("reads behind a silent replica", TimeSpan.FromSeconds(30));
        Assert.All(reads, read => Assert.False(read.Standby));
        Assert.All(reads, read => Assert.Equal(2, read.Rows));
        Assert.Equal(1, blackHole.Accepted);
    }

    [Fact]
    public async Task A_replica_that_passed_its_check_but_refuses_the_read_s_connection_falls_back_to_the_primary()
    {
        var (proxy, services) = ProxiedReplica();
        await using var disposeProxy = proxy;
        await using var disposeServices = services;
        using var fallbacks = new MetricCollector<long>(services.GetRequiredService<ScaleOpsMetrics>().Meter, "scaleops.rls.replica.fallbacks");
        var data = services.GetRequiredService<ITenantDataSource>();
        using var scope = services.GetRequiredService<ITenantContext>().BeginScope(new TenantId("t02"));
        Assert.True((await WhereAsync(data, TenantDataAccess.ReadOnly)).Standby);

        // Healthy for another minute by its last check, but its connections are now refused.
        proxy.Mode = FaultyTcpProxy.ProxyMode.Refuse;
        var read = await WhereAsync(data, TenantDataAccess.ReadOnly);
        Assert.False(read.Standby);
        Assert.Equal(2, read.Rows);
        Assert.Equal(1, Assert.Single(fallbacks.GetMeasurementSnapshot()).Value);
        Assert.False((await WhereAsync(data, TenantDataAccess.ReadOnly)).Standby);
    }

    [Fact]
    public async Task A_replica_reached_as_a_role_that_bypasses_rls_is_never_read_from()
    {
        // The same replica, reached as the superuser: its reads would ignore every policy, so they go to the primary.
        var asSuperuser = new NpgsqlConnectionStringBuilder(PostgresReplicaServer.ConnectionStringFor(database.Name)) { ApplicationName = "bypass" }.ToString();
        Assert.Equal("postgres", new NpgsqlConnectionStringBuilder(asSuperuser).Username);
        await using var services = Services(TimeSpan.FromMinutes(1), asSuperuser);
        var data = services.GetRequiredService<ITenantDataSource>();
        using var scope = services.GetRequiredService<ITenantContext>().BeginScope(new TenantId("t02"));
        var read = await WhereAsync(data, TenantDataAccess.ReadOnly);
        Assert.False(read.Standby);
        Assert.Equal(2, read.Rows);
    }

    [Fact]
    public async Task A_replica_lagging_beyond_the_bound_is_skipped_and_used_again_once_it_has_caught_up()
    {
        // A realistic bound and a movable clock: with a bound of milliseconds, the WAL the other test classes write in
        // parallel would keep the replica "behind" at nearly every check.
        var time = new ShiftedTime();
        await using var services = Services(TimeSpan.FromMinutes(1), time, Replica("lagging"));
        var data = services.GetRequiredService<ITenantDataSource>();
        using var scope = services.GetRequiredService<ITenantContext>().BeginScope(new TenantId("t03"));
        await using var replicaAdmin = new NpgsqlConnection(PostgresReplicaServer.ConnectionStringFor(database.Name));
        await replicaAdmin.OpenAsync();
        string missed;
        await Execute(replicaAdmin, "SELECT pg_wal_replay_pause()");
        try
        {
            missed = await InsertOnPrimaryAsync("wal");
            await TestSignal.UntilAsync(
                async () => (bool)(await Scalar(replicaAdmin, "SELECT pg_last_wal_receive_lsn() >= $1::pg_lsn", missed))!,
                "the replica to receive WAL it has not replayed");

            // Replay paused for "ten minutes": its last replayed transaction is older than the one-minute bound.
            time.Shift = TimeSpan.FromMinutes(10);
            var read = await WhereAsync(data, TenantDataAccess.ReadOnly);
            Assert.False(read.Standby);
        }
        finally
        {
            await Execute(replicaAdmin, "SELECT pg_wal_replay_resume()");
        }

        await TestSignal.UntilAsync(
            async () => (bool)(await Scalar(replicaAdmin, "SELECT pg_last_wal_replay_lsn() >= $1::pg_lsn", missed))!,
            "the replica to replay what it missed");
        time.Shift = TimeSpan.Zero;
        await TestSignal.UntilAsync(async () => (await WhereAsync(data, TenantDataAccess.ReadOnly)).Standby, "reads to return to the caught-up replica");
    }

    // Inserts a row on the primary and returns the primary's WAL position after the commit.
    private async Task<string> InsertOnPrimaryAsync(string title)
    {
        await using var primary = await PostgresServer.OpenAdminAsync(database.Name);
        await using (var insert = new NpgsqlCommand("INSERT INTO documents (tenant_id, title) VALUES ('t99', $1)", primary))
        {
            insert.Parameters.Add(new NpgsqlParameter { Value = title });
            await insert.ExecuteNonQueryAsync();
        }

        return (string)(await Scalar(primary, "SELECT pg_current_wal_lsn()::text"))!;
    }

    [Fact]
    public async Task A_replica_cut_off_from_its_primary_counts_as_lagging_although_it_has_nothing_left_to_replay()
    {
        var time = new ShiftedTime();
        await using var services = Services(TimeSpan.FromMinutes(1), time, Replica("cut"));
        using var fallbacks = new MetricCollector<long>(services.GetRequiredService<ScaleOpsMetrics>().Meter, "scaleops.rls.replica.fallbacks");
        var data = services.GetRequiredService<ITenantDataSource>();
        using var scope = services.GetRequiredService<ITenantContext>().BeginScope(new TenantId("t05"));
        await TestSignal.UntilAsync(async () => (await WhereAsync(data, TenantDataAccess.ReadOnly)).Standby, "reads to go to the streaming replica");
        fallbacks.Clear();

        // Cut the replica off: its WAL receiver now dials a closed port (primary_conninfo reloads without a restart).
        await using var replicaAdmin = new NpgsqlConnection(PostgresReplicaServer.AdminConnectionString);
        await replicaAdmin.OpenAsync();
        var restore = (string)(await Scalar(replicaAdmin, "SELECT format('ALTER SYSTEM SET primary_conninfo = %L', current_setting('primary_conninfo'))"))!;
        string missed;
        try
        {
            await Execute(replicaAdmin, "ALTER SYSTEM SET primary_conninfo = 'host=127.0.0.1 port=1 user=postgres connect_timeout=2'");
            await Execute(replicaAdmin, "SELECT pg_reload_conf()");
            await TestSignal.UntilAsync(
                async () => (bool)(await Scalar(replicaAdmin, "SELECT NOT EXISTS (SELECT FROM pg_stat_wal_receiver WHERE status = 'streaming')"))!,
                "the replica's WAL receiver to stop streaming");
            missed = await InsertOnPrimaryAsync("missed by the replica");

            // Replayed all it can: everything it received, or, when the stream was cut inside a WAL record (the other
            // test classes write all the time), everything up to that record, with the startup process now waiting for
            // WAL that will not come and its replay position no longer moving. Either way nothing is left to replay.
            string? lastReplay = null;
            await TestSignal.UntilAsync(
                async () =>
                {
                    await using var state = new NpgsqlCommand(
                        "SELECT pg_last_wal_receive_lsn() IS NOT DISTINCT FROM pg_last_wal_replay_lsn(), "
                        + "EXISTS (SELECT FROM pg_stat_activity WHERE backend_type = 'startup' "
                        + "AND wait_event IN ('RecoveryWalStream', 'RecoveryRetrieveRetryInterval')), pg_last_wal_replay_lsn()::text",
                        replicaAdmin);
                    await using var reader = await state.ExecuteReaderAsync();
                    await reader.ReadAsync();
                    var (caughtUp, waiting, replay) = (reader.GetBoolean(0), reader.GetBoolean(1), reader.GetString(2));
                    var idle = waiting && replay == lastReplay;
                    lastReplay = replay;
                    return caughtUp || idle;
                },
                "the cut-off replica to have replayed all it can (what the old check read as zero lag)");
            Assert.True((bool)(await Scalar(replicaAdmin, "SELECT pg_last_wal_replay_lsn() < $1::pg_lsn", missed))!, "the replica misses the insert");

            // Within the bound (its last replayed transaction is seconds old) the replica may still serve reads; ten
            // minutes later by the router's clock it is beyond the one-minute bound, although it has nothing to replay.
            time.Shift = TimeSpan.FromMinutes(10);
            var read = await WhereAsync(data, TenantDataAccess.ReadOnly);
            Assert.False(read.Standby);
            Assert.Equal(1, Assert.Single(fallbacks.GetMeasurementSnapshot()).Value);
        }
        finally
        {
            await Execute(replicaAdmin, restore);
            await Execute(replicaAdmin, "SELECT pg_reload_conf()");
        }

        await TestSignal.UntilAsync(
            async () => (bool)(await Scalar(replicaAdmin, "SELECT EXISTS (SELECT FROM pg_stat_wal_receiver WHERE status = 'streaming')"))!,
            "the replica to stream from the primary again");

        await TestSignal.UntilAsync(
            async () => (bool)(await Scalar(replicaAdmin, "SELECT pg_last_wal_replay_lsn() >= $1::pg_lsn", missed))!,
            "the reconnected replica to replay what it missed");
        time.Shift = TimeSpan.Zero;
        await TestSignal.UntilAsync(async () => (await WhereAsync(data, TenantDataAccess.ReadOnly)).Standby, "reads to return to the reconnected replica");
    }

    private static async Task<object?> Scalar(NpgsqlConnection connection, string sql, params object[] parameters)
    {
        await using var command = new NpgsqlCommand(sql, connection);
        foreach (var value in parameters)
        {
            command.Parameters.Add(new NpgsqlParameter { Value = value });
        }

        return await command.ExecuteScalarAsync();
    }

    private sealed class ShiftedTime : TimeProvider
    {
        public TimeSpan Shift { get; set; }

        public override DateTimeOffset GetUtcNow() => base.GetUtcNow() + Shift;
    }

    private static async Task Execute(NpgsqlConnection connection, string sql)
    {
        await using var command = new NpgsqlCommand(sql, connection);
        await command.ExecuteNonQueryAsync();
    }
}
