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
/// Read/write splitting against the real streaming replica of the test server (scripts/servers.d/pgreplica.sh), which
/// other test classes and other checkouts' runs read from at the same time: nothing here pauses, cuts off or reconfigures
/// it. Tests that must make a replica fall behind use one of their own (ReplicaRoutingTests.Lag.cs).
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

        var order = new List<string>();
        for (var i = 0; i < 6; i++)
        {
            var read = await WhereAsync(data, TenantDataAccess.ReadOnly);
            Assert.True(read.Standby);
            Assert.Equal(4, read.Rows);
            order.Add(read.App);
        }

        // In turn, not merely both: a random choice would also reach both replicas in most runs of a few reads.
        Assert.Equal(["r1", "r2"], order.ToHashSet(StringComparer.Ordinal));
        Assert.All(order.Zip(order.Skip(1)), pair => Assert.NotEqual(pair.First, pair.Second));
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
        for (var i = 0; i < 2; i++) // each replica's turn first
        {
            var primary = await WhereAsync(none.GetRequiredService<ITenantDataSource>(), TenantDataAccess.ReadOnly);
            Assert.False(primary.Standby);
            Assert.NotEqual("fake", primary.App); // the primary's own connection, not the "replica" that is the primary
            Assert.Equal(2, primary.Rows);
        }

        Assert.Equal([1L, 1L], noneFallbacks.GetMeasurementSnapshot().Select(m => m.Value));
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

        // Within its check interval the unhealthy verdict stands: the next read goes to the primary without a new check.
        Assert.False((await WhereAsync(data, TenantDataAccess.ReadOnly)).Standby);
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
