using System;
using System.Linq;
using System.Threading.Tasks;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Npgsql;
using ScaleOps.Rls.Safety;
using ScaleOps.Rls.Tests.Support;
using ScaleOps.TestInfrastructure;

namespace ScaleOps.Rls.Tests.Routing;

/// <summary>What a host does to its shards when it starts, with several hosts starting at once (a deploy, a scale-out).</summary>
public class ShardStartupTests(RlsDatabase database) : IClassFixture<RlsDatabase>, IAsyncLifetime
{
    private readonly string _shardDatabase = $"rls_start_{Environment.ProcessId}_{Guid.NewGuid():N}"[..40];

    public async Task InitializeAsync()
    {
        await SecondPostgresServer.ExecuteAsync(RlsDatabase.RoleSql(RlsDatabase.AppRole, "NOBYPASSRLS"));
        await SecondPostgresServer.ExecuteAsync(RlsDatabase.RoleSql(RlsDatabase.BypassRole, "BYPASSRLS"));
        await SecondPostgresServer.ExecuteAsync($"CREATE DATABASE \"{_shardDatabase}\"");
        await SecondPostgresServer.ExecuteAsync(
            RlsDatabase.SchemaSql.Replace("generate_series(1, 20)", "generate_series(1, 0)", StringComparison.Ordinal), _shardDatabase);
    }

    public async Task DisposeAsync()
    {
        NpgsqlConnection.ClearAllPools();
        await SecondPostgresServer.ExecuteAsync($"DROP DATABASE IF EXISTS \"{_shardDatabase}\" WITH (FORCE)");
    }

    private IHost BuildHost(Action<RlsOptions>? configure = null, TimeSpan? migrationTimeout = null)
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Services.AddScaleOps(o =>
        {
            o.ConnectionString = database.ConnectionString;
            o.MigrationTimeout = migrationTimeout ?? o.MigrationTimeout;
        }).AddRls(o =>
        {
            foreach (var table in RlsDatabase.Tables())
            {
                o.Tables.Add(table);
            }

            configure?.Invoke(o);

            o.Shards["whales"] = SecondPostgresServer.ConnectionStringFor(_shardDatabase);
            o.AllowBypassRlsRole = true; // the test connects as the servers' superuser, which owns the tables
        });
        return builder.Build();
    }

    [Fact]
    public async Task Hosts_starting_at_once_all_start_and_leave_the_shard_with_the_context_procedure()
    {
        // The primary's migrations queue on an advisory lock ("two hosts starting at once simply queue"); the shard's copy
        // of the context procedure was installed without one, and concurrent CREATE OR REPLACE PROCEDURE / GRANT on one
        // catalog row fail with 'tuple concurrently updated'.
        for (var round = 0; round < 3; round++)
        {
            var hosts = Enumerable.Range(0, 6).Select(_ => BuildHost()).ToList();
            try
            {
                var failures = await Task.WhenAll(hosts.Select(async host =>
                {
                    try
                    {
                        await host.StartAsync();
                        await host.StopAsync();
                        return null;
                    }
                    catch (Exception ex) when (ex is NpgsqlException or InvalidOperationException)
                    {
                        return ex.Message;
                    }
                })).WaitAsync("six hosts starting at once", TimeSpan.FromMinutes(2));
                Assert.Equal(new string?[hosts.Count], failures);
            }
            finally
            {
                foreach (var host in hosts)
                {
                    host.Dispose();
                }
            }
        }

        await using var shard = NpgsqlDataSource.Create(SecondPostgresServer.ConnectionStringFor(_shardDatabase));
        await using var command = shard.CreateCommand("SELECT to_regprocedure('scaleops.rls_set_context(text,text,text[])') IS NOT NULL");
        Assert.Equal(true, await command.ExecuteScalarAsync());
    }

    [Fact]
    public async Task The_start_up_checks_report_the_primary_s_and_every_shard_s_problems_at_once_each_shard_problem_naming_its_database()
    {
        // The shard's tables never had their policies applied; the primary's have. A table declared but missing is a
        // problem on both.
        using var host = BuildHost(o =>
        {
            o.ApplyPoliciesOnStart = false;
            o.Tables.Add(new RlsTable("public", "no_such_table"));
        });

        var error = await Assert.ThrowsAsync<RlsSafetyException>(() => host.StartAsync());

        var shard = $"shard whales (database {_shardDatabase} at 127.0.0.1:";
        Assert.Contains("declared table public.no_such_table does not exist.", error.Problems);
        Assert.Contains(error.Problems, p => p.StartsWith(shard, StringComparison.Ordinal) && p.EndsWith("declared table public.no_such_table does not exist.", StringComparison.Ordinal));
        Assert.Contains(error.Problems, p => p.StartsWith(shard, StringComparison.Ordinal) && p.Contains("table documents does not have row level security enabled", StringComparison.Ordinal));
        Assert.All(error.Problems.Where(p => p.Contains("row level security enabled", StringComparison.Ordinal)), p => Assert.StartsWith(shard, p, StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_shard_whose_migration_lock_another_session_holds_fails_the_start_naming_the_shard_and_the_setting()
    {
        // Another host migrating the shard (or a session left open on its lock): the start waits ScaleOps:MigrationTimeout,
        // then says which database and which setting, instead of Npgsql's bare command timeout.
        await using var holder = new NpgsqlConnection(SecondPostgresServer.ConnectionStringFor(_shardDatabase));
        await holder.OpenAsync();
        await using var transaction = await holder.BeginTransactionAsync();
        await using (var take = new NpgsqlCommand("SELECT pg_advisory_xact_lock($1)", holder, transaction))
        {
            take.Parameters.Add(new NpgsqlParameter<long> { TypedValue = ScaleOps.Data.AdvisoryLock.KeyOf("scaleops:migrations:scaleops") });
            await take.ExecuteNonQueryAsync();
        }

        using var host = BuildHost(migrationTimeout: TimeSpan.FromSeconds(1));
        var error = await Assert.ThrowsAsync<TimeoutException>(() => host.StartAsync().WaitAsync("the start to give up", TimeSpan.FromSeconds(60)));

        Assert.Contains($"shard database {_shardDatabase}", error.Message, StringComparison.Ordinal);
        Assert.Contains("ScaleOps:MigrationTimeout (00:00:01)", error.Message, StringComparison.Ordinal);
        Assert.IsAssignableFrom<NpgsqlException>(error.InnerException);
    }
}
