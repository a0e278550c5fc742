using System;
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
/// The lag bound against a replica that falls behind. These tests pause replay on, or cut off, a streaming replica of
/// their own (<see cref="PrivatePostgresReplica"/>): the shared replica keeps streaming for every other test class and
/// every other checkout's run that reads from it.
/// </summary>
public partial class ReplicaRoutingTests
{
    private string PrivateReplica(PrivatePostgresReplica replica, string applicationName) =>
        new NpgsqlConnectionStringBuilder(replica.ConnectionStringFor(database.Name, RlsDatabase.AppRole))
        {
            ApplicationName = applicationName,
        }.ToString();

    [Fact]
    public async Task A_replica_lagging_beyond_the_bound_is_skipped_and_used_again_once_it_has_caught_up()
    {
        // A realistic bound and a movable clock: with a bound of milliseconds, the WAL the other test classes write in
        // parallel would keep the replica "behind" at nearly every check.
        var time = new ShiftedTime();
        await using var replica = await PrivatePostgresReplica.StartAsync();
        await using var services = Services(TimeSpan.FromMinutes(1), time, PrivateReplica(replica, "lagging"));
        var data = services.GetRequiredService<ITenantDataSource>();
        using var scope = services.GetRequiredService<ITenantContext>().BeginScope(new TenantId("t03"));
        await using var replicaAdmin = new NpgsqlConnection(replica.ConnectionStringFor(database.Name));
        await replicaAdmin.OpenAsync();
        var replayed = await InsertOnPrimaryAsync("replayed before the pause");
        await TestSignal.UntilAsync(
            async () => (bool)(await Scalar(replicaAdmin, "SELECT pg_last_wal_replay_lsn() >= $1::pg_lsn", replayed))!,
            "the replica to replay a transaction just committed");
        string missed;
        await Execute(replicaAdmin, "SELECT pg_wal_replay_pause()");
        try
        {
            missed = await InsertOnPrimaryAsync("wal");
            await TestSignal.UntilAsync(
                async () => (bool)(await Scalar(
                    replicaAdmin, "SELECT pg_last_wal_receive_lsn() >= $1::pg_lsn AND pg_get_wal_replay_pause_state() = 'paused'", missed))!,
                "the replica to receive WAL it has not replayed");

            // Behind the primary, but its last replayed transaction is seconds old: within the one-minute bound it serves reads.
            Assert.True((await WhereAsync(data, TenantDataAccess.ReadOnly)).Standby);

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
        await using var replica = await PrivatePostgresReplica.StartAsync();
        await using var services = Services(TimeSpan.FromMinutes(1), time, PrivateReplica(replica, "cut"));
        using var fallbacks = new MetricCollector<long>(services.GetRequiredService<ScaleOpsMetrics>().Meter, "scaleops.rls.replica.fallbacks");
        var data = services.GetRequiredService<ITenantDataSource>();
        using var scope = services.GetRequiredService<ITenantContext>().BeginScope(new TenantId("t05"));
        await TestSignal.UntilAsync(async () => (await WhereAsync(data, TenantDataAccess.ReadOnly)).Standby, "reads to go to the streaming replica");
        fallbacks.Clear();

        // Cut the replica off: its WAL receiver now dials a closed port (primary_conninfo reloads without a restart).
        await using var replicaAdmin = new NpgsqlConnection(replica.AdminConnectionString);
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
}
