using System;
using System.Threading.Tasks;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Npgsql;
using ScaleOps.Data;
using ScaleOps.Rls.Tests.Support;
using ScaleOps.Tenancy;
using ScaleOps.TestInfrastructure;

namespace ScaleOps.Rls.Tests.Routing;

/// <summary>
/// ScaleOps:ConfigureDataSource (type mappings, password providers, logging) shapes every data source tenant work can
/// run on: the shared primary's, and the shards', replicas' and bypass role's that ScaleOps.Rls builds itself. A tenant
/// placed on a shard, a read sent to a replica or a bypass report must not lose the application's enum mapping.
/// </summary>
public class DataSourceSetupTests(RlsDatabase database) : IClassFixture<RlsDatabase>, IAsyncLifetime
{
    public enum Mood
    {
        Happy,
        Sad,
    }

    private const string MoodType = "CREATE TYPE test_mood AS ENUM ('happy', 'sad')";

    private readonly string _shardDatabase = $"rls_setup_{Environment.ProcessId}_{Guid.NewGuid():N}"[..40];

    public async Task InitializeAsync()
    {
        await SecondPostgresServer.ExecuteAsync(RlsDatabase.RoleSql(RlsDatabase.AppRole, "NOBYPASSRLS"));
        await SecondPostgresServer.ExecuteAsync($"CREATE DATABASE \"{_shardDatabase}\"");
        await SecondPostgresServer.ExecuteAsync(RlsDatabase.ContextProcedureSql, _shardDatabase);
        await SecondPostgresServer.ExecuteAsync(MoodType, _shardDatabase);
        await PostgresServer.ExecuteAsync(MoodType, database.Name);
        await TestSignal.UntilAsync(async () =>
        {
            try
            {
                await using var connection = new NpgsqlConnection(PostgresReplicaServer.ConnectionStringFor(database.Name));
                await connection.OpenAsync();
                await using var command = new NpgsqlCommand("SELECT to_regtype('test_mood') IS NOT NULL", connection);
                return (bool)(await command.ExecuteScalarAsync())!;
            }
            catch (PostgresException)
            {
                return false;
            }
        }, "the replica to replay the enum type");
    }

    public async Task DisposeAsync()
    {
        NpgsqlConnection.ClearAllPools();
        await SecondPostgresServer.ExecuteAsync($"DROP DATABASE IF EXISTS \"{_shardDatabase}\" WITH (FORCE)");
    }

    // Writes a Mood parameter, which only a data source with the enum mapping can; returns (in recovery, port).
    private static async Task<(bool Replica, int Port)> WriteMoodAsync(NpgsqlBatch batch)
    {
        var command = new NpgsqlBatchCommand("SELECT $1 = 'happy'::test_mood, pg_is_in_recovery(), inet_server_port()");
        command.Parameters.Add(new NpgsqlParameter { Value = Mood.Happy });
        batch.BatchCommands.Add(command);
        await using var reader = await batch.ExecuteReaderAsync();
        Assert.True(await reader.ReadAsync());
        Assert.True(reader.GetBoolean(0));
        return (reader.GetBoolean(1), reader.GetInt32(2));
    }

    [Fact]
    public async Task Shards_replicas_and_the_bypass_role_get_the_applications_data_source_setup()
    {
        var shard = SecondPostgresServer.ConnectionStringFor(_shardDatabase, RlsDatabase.AppRole);
        await using var services = RlsDatabase.Services(database.AppConnectionString(), o =>
        {
            o.Shards["whales"] = shard;
            o.TenantPlacements["mood-whale"] = "whales";
            o.ReplicaConnectionStrings.Add(PostgresReplicaServer.ConnectionStringFor(database.Name, RlsDatabase.AppRole));
            o.MaxReplicaLag = TimeSpan.FromMinutes(1);
            o.BypassConnectionString = database.BypassConnectionString;
        }, more: s => s.Configure<ScaleOpsOptions>(o => o.ConfigureDataSource = b => b.MapEnum<Mood>("test_mood")));
        var data = services.GetRequiredService<ITenantDataSource>();
        var tenants = services.GetRequiredService<ITenantContext>();

        using (tenants.BeginScope(new TenantId("t01")))
        {
            await using var connection = await data.OpenConnectionAsync();
            await using var batch = connection.CreateBatch();
            Assert.False((await WriteMoodAsync(batch)).Replica); // the shared primary: always had it
        }

        using (tenants.BeginScope(new TenantId("mood-whale")))
        {
            await using var connection = await data.OpenConnectionAsync();
            await using var batch = connection.CreateBatch();
            Assert.Equal(new NpgsqlConnectionStringBuilder(shard).Port, (await WriteMoodAsync(batch)).Port);
        }

        using (tenants.BeginScope(new TenantId("t01")))
        {
            await TestSignal.UntilAsync(async () =>
            {
                await using var connection = await data.OpenConnectionAsync(TenantDataAccess.ReadOnly);
                await using var batch = connection.CreateBatch();
                return (await WriteMoodAsync(batch)).Replica;
            }, "a read-only batch on the replica");
        }

        await using (var bypass = await services.GetRequiredService<RlsBypass>().OpenConnectionAsync("enum report"))
        {
            await using var batch = new NpgsqlBatch(bypass);
            await WriteMoodAsync(batch);
        }
    }
}
