using System;
using System.Threading.Tasks;
using Npgsql;
using ScaleOps.Data;
using ScaleOps.TestInfrastructure;

namespace ScaleOps.Core.Tests.Data;

public class AdvisoryLockTests(PostgresDatabase database) : IClassFixture<PostgresDatabase>
{
    [Fact]
    public async Task Only_one_session_holds_a_lock_until_it_is_released()
    {
        await using var first = await AdvisoryLock.TryAcquireAsync(database.DataSource, "leader-a");
        Assert.NotNull(first);
        Assert.True(await first.IsHeldAsync());
        Assert.Null(await AdvisoryLock.TryAcquireAsync(database.DataSource, "leader-a"));

        // Another name is another lock.
        await using (var other = await AdvisoryLock.TryAcquireAsync(database.DataSource, "leader-b"))
        {
            Assert.NotNull(other);
        }

        await first.DisposeAsync();
        Assert.False(await first.IsHeldAsync());
        await using var second = await AdvisoryLock.TryAcquireAsync(database.DataSource, "leader-a");
        Assert.NotNull(second);
    }

    [Fact]
    public async Task A_dead_leaders_lock_is_released_by_the_server()
    {
        var leader = await AdvisoryLock.TryAcquireAsync(database.DataSource, "leader-crash");
        Assert.NotNull(leader);

        await using (var admin = await database.DataSource.OpenConnectionAsync())
        await using (var kill = new NpgsqlCommand(
            "SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' AND objid = ($1 & 4294967295)::oid "
            + "AND database = (SELECT oid FROM pg_database WHERE datname = current_database())", admin))
        {
            kill.Parameters.Add(new NpgsqlParameter<long> { TypedValue = leader.Key });
            await kill.ExecuteNonQueryAsync();
        }

        Assert.False(await leader.IsHeldAsync());
        await TestSignal.UntilAsync(async () =>
        {
            await using var next = await AdvisoryLock.TryAcquireAsync(database.DataSource, "leader-crash");
            return next is not null;
        }, "the lock of a terminated session to be released");
        await leader.DisposeAsync();
    }

    [Fact]
    public async Task A_server_idle_in_transaction_timeout_does_not_end_a_leaders_lock()
    {
        // The lock's transaction stays open and idle while the leader works. Managed servers often set
        // idle_in_transaction_session_timeout; it used to end the session, and the lock with it, in the middle of a
        // maintenance run, so a second host could become leader while the first was still working.
        var builder = new NpgsqlConnectionStringBuilder(database.ConnectionString)
        {
            Options = "-c idle_in_transaction_session_timeout=200",
        };
        await using var dataSource = NpgsqlDataSource.Create(builder.ConnectionString);
        await using var leader = await AdvisoryLock.TryAcquireAsync(dataSource, "leader-idle-timeout");
        Assert.NotNull(leader);

        // Wait (bounded) until the server's clock shows the lock's session idle in transaction for 1 s, five times the
        // timeout, or until the session is gone.
        await TestSignal.UntilAsync(async () =>
        {
            await using var admin = await database.DataSource.OpenConnectionAsync();
            await using var check = new NpgsqlCommand(
                "SELECT coalesce((SELECT clock_timestamp() - a.state_change > interval '1 second' FROM pg_locks l "
                + "JOIN pg_stat_activity a ON a.pid = l.pid WHERE l.locktype = 'advisory' AND l.granted "
                + "AND l.objid = ($1 & 4294967295)::oid AND l.classid = (($1 >> 32) & 4294967295)::oid), true)", admin);
            check.Parameters.Add(new NpgsqlParameter<long> { TypedValue = leader.Key });
            return (bool)(await check.ExecuteScalarAsync())!;
        }, "the leader's session to be idle in transaction for 1 s, or gone");

        Assert.True(await leader.IsHeldAsync(), "the server ended the leader's idle transaction, and its lock with it");
        Assert.Null(await AdvisoryLock.TryAcquireAsync(dataSource, "leader-idle-timeout"));
    }

    [Fact]
    public void Keys_are_stable_across_processes()
    {
        // SHA-256 based, so the value is fixed forever; a change here would split leaders of mixed versions.
        Assert.NotEqual(AdvisoryLock.KeyOf("a"), AdvisoryLock.KeyOf("b"));
        Assert.Equal(-3837880752741967926L, AdvisoryLock.KeyOf("a"));
    }

    [Fact]
    public async Task Names_with_an_unpaired_surrogate_are_refused_instead_of_sharing_a_lock()
    {
        // The UTF-8 encoder turned every lone surrogate into U+FFFD, so these two names were one lock: the leader of one
        // job kept the other's leader from ever running.
        var first = "scaleops:leader:" + (char)0xD800;
        var second = "scaleops:leader:" + (char)0xD801;
        foreach (var name in new[] { first, second })
        {
            var ex = Assert.Throws<ArgumentException>(() => AdvisoryLock.KeyOf(name));
            Assert.Contains($"U+{(int)name[^1]:X4}", ex.Message, StringComparison.Ordinal);
            await Assert.ThrowsAsync<ArgumentException>(() => AdvisoryLock.TryAcquireAsync(database.DataSource, name));
        }

        Assert.NotEqual(AdvisoryLock.KeyOf("scaleops:leader:\U0001F600"), AdvisoryLock.KeyOf("scaleops:leader:\U0001F601"));
    }
}
