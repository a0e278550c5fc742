using System;
using System.Collections.Generic;
using System.Linq;
using System.Threading.Tasks;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Npgsql;
using ScaleOps.Data;
using ScaleOps.Rls.EntityFrameworkCore;
using ScaleOps.Rls.Tests.Support;
using ScaleOps.Tenancy;
using ScaleOps.TestInfrastructure;

namespace ScaleOps.Rls.Tests.Routing;

/// <summary>A whale tenant on its own PostgreSQL (the second test server), the same code for every tenant.</summary>
public class TenantPlacementTests(RlsDatabase database) : IClassFixture<RlsDatabase>, IAsyncLifetime
{
    private readonly string _shardDatabase = $"rls_shard_{Environment.ProcessId}_{Guid.NewGuid():N}"[..40];

    public async Task InitializeAsync()
    {
        await SecondPostgresServer.ExecuteAsync(RlsDatabase.RoleSql(RlsDatabase.AppRole, "NOBYPASSRLS"));
        await SecondPostgresServer.ExecuteAsync(RlsDatabase.RoleSql(RlsDatabase.BypassRole, "BYPASSRLS"));
        await SecondPostgresServer.ExecuteAsync($"CREATE DATABASE \"{_shardDatabase}\"");
        await SecondPostgresServer.ExecuteAsync(RlsDatabase.ContextProcedureSql, _shardDatabase);
        await SecondPostgresServer.ExecuteAsync(RlsDatabase.SchemaSql.Replace("generate_series(1, 20)", "generate_series(1, 0)", StringComparison.Ordinal), _shardDatabase);
        await using var owner = NpgsqlDataSource.Create(SecondPostgresServer.ConnectionStringFor(_shardDatabase));
        var options = new RlsOptions();
        foreach (var table in RlsDatabase.Tables())
        {
            options.Tables.Add(table);
        }

        await new RlsPolicyManager(owner, Options.Create(options), NullLogger<RlsPolicyManager>.Instance).ApplyAsync();
    }

    public async Task DisposeAsync()
    {
        NpgsqlConnection.ClearAllPools();
        await SecondPostgresServer.ExecuteAsync($"DROP DATABASE IF EXISTS \"{_shardDatabase}\" WITH (FORCE)");
    }

    [Fact]
    public async Task A_placed_tenant_lives_on_its_shard_and_the_others_on_the_shared_database()
    {
        var shard = SecondPostgresServer.ConnectionStringFor(_shardDatabase, RlsDatabase.AppRole);
        await using var services = RlsDatabase.Services(database.AppConnectionString(), o =>
        {
            o.Shards["whales"] = shard;
            o.TenantPlacements["whale"] = "whales";
        });
        var data = services.GetRequiredService<ITenantDataSource>();
        var tenants = services.GetRequiredService<ITenantContext>();
        var shardPort = new NpgsqlConnectionStringBuilder(shard).Port;

        async Task<(int Port, long Rows)> WriteAndCountAsync(string tenant)
        {
            using var scope = tenants.BeginScope(new TenantId(tenant));
            await using (var tx = await data.BeginTransactionAsync())
            {
                await using var insert = tx.CreateCommand("INSERT INTO documents (tenant_id, title) VALUES (current_setting('app.tenant_id'), 'placed')");
                await insert.ExecuteNonQueryAsync();
                await tx.CommitAsync();
            }

            await using var connection = await data.OpenConnectionAsync(TenantDataAccess.ReadOnly);
            await using var batch = connection.CreateBatch("SELECT inet_server_port(), (SELECT count(*) FROM documents)");
            await using var reader = await batch.ExecuteReaderAsync();
            await reader.ReadAsync();
            return (reader.GetInt32(0), reader.GetInt64(1));
        }

        var whale = await WriteAndCountAsync("whale");
        Assert.Equal(shardPort, whale.Port);
        Assert.Equal(1, whale.Rows);

        var small = await WriteAndCountAsync("t01");
        Assert.NotEqual(shardPort, small.Port);
        Assert.Equal(2, small.Rows);

        // The whale's row is on the shard only; the shared database never saw it.
        await using (var admin = await PostgresServer.OpenAdminAsync(database.Name))
        await using (var command = new NpgsqlCommand("SELECT count(*) FROM documents WHERE tenant_id = 'whale'", admin))
        {
            Assert.Equal(0L, await command.ExecuteScalarAsync());
        }

        await using var shardAdmin = NpgsqlDataSource.Create(SecondPostgresServer.ConnectionStringFor(_shardDatabase));
        await using var onShard = shardAdmin.CreateCommand("SELECT count(*) FROM documents WHERE tenant_id = 'whale'");
        Assert.Equal(1L, await onShard.ExecuteScalarAsync());
    }

    [Fact]
    public async Task Every_setting_of_the_readme_binds_from_configuration_and_a_placement_there_routes_the_tenant()
    {
        var shard = SecondPostgresServer.ConnectionStringFor(_shardDatabase, RlsDatabase.AppRole);
        var replica = PostgresReplicaServer.ConnectionStringFor(database.Name, RlsDatabase.AppRole);
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["ScaleOps:ConnectionString"] = database.AppConnectionString(),
            ["ScaleOps:ApplyMigrationsOnStart"] = "false",
            ["ScaleOps:Rls:Tables:0:Schema"] = "public",
            ["ScaleOps:Rls:Tables:0:Name"] = "documents",
            ["ScaleOps:Rls:ApplyPoliciesOnStart"] = "false",
            ["ScaleOps:Rls:VerifyOnStart"] = "true",
            ["ScaleOps:Rls:AllowBypassRlsRole"] = "false",
            ["ScaleOps:Rls:BypassConnectionString"] = database.BypassConnectionString,
            ["ScaleOps:Rls:ReplicaConnectionStrings:0"] = replica,
            ["ScaleOps:Rls:MaxReplicaLag"] = "00:01:00",
            ["ScaleOps:Rls:ReplicaCheckInterval"] = "00:00:03",
            ["ScaleOps:Rls:ReplicaCheckTimeout"] = "00:00:04",
            ["ScaleOps:Rls:Shards:whales"] = shard,
            ["ScaleOps:Rls:TenantPlacements:config-whale"] = "whales",
        });
        builder.Services.AddScaleOps().AddRls();
        using (var host = builder.Build())
        {
            await host.StartAsync(); // the safety checks ran on the shared database and on the shard
            var options = host.Services.GetRequiredService<IOptions<RlsOptions>>().Value;
            Assert.Equal("public.documents (Tenant)", Assert.Single(options.Tables).ToString());
            Assert.False(options.ApplyPoliciesOnStart);
            Assert.Equal(database.BypassConnectionString, options.BypassConnectionString);
            Assert.Equal([replica], options.ReplicaConnectionStrings);
            Assert.Equal(
                (TimeSpan.FromMinutes(1), TimeSpan.FromSeconds(3), TimeSpan.FromSeconds(4)),
                (options.MaxReplicaLag, options.ReplicaCheckInterval, options.ReplicaCheckTimeout));

            var data = host.Services.GetRequiredService<ITenantDataSource>();
            using var scope = host.Services.GetRequiredService<ITenantContext>().BeginScope(new TenantId("config-whale"));
            await using (var tx = await data.BeginTransactionAsync())
            {
                await using var insert = tx.CreateCommand("INSERT INTO documents (tenant_id, title) VALUES (current_setting('app.tenant_id'), 'from config')");
                await insert.ExecuteNonQueryAsync();
                await tx.CommitAsync();
            }

            await using var connection = await data.OpenConnectionAsync(TenantDataAccess.ReadOnly);
            await using var batch = connection.CreateBatch("SELECT inet_server_port(), (SELECT count(*) FROM documents)");
            await using var reader = await batch.ExecuteReaderAsync();
            await reader.ReadAsync();
            Assert.Equal((new NpgsqlConnectionStringBuilder(shard).Port, 1L), (reader.GetInt32(0), reader.GetInt64(1)));
            await host.StopAsync();
        }

        // A misspelt key is not silently ignored.
        var misspelt = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        misspelt.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["ScaleOps:ConnectionString"] = database.AppConnectionString(),
            ["ScaleOps:Rls:MaxReplicaLagSeconds"] = "5",
        });
        misspelt.Services.AddScaleOps().AddRls();
        using var refused = misspelt.Build();
        var ex = await Assert.ThrowsAsync<OptionsValidationException>(() => refused.StartAsync());
        Assert.Contains("ScaleOps:Rls", ex.Message, StringComparison.Ordinal);
        Assert.Contains("MaxReplicaLagSeconds", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task EF_Core_reads_of_a_placed_tenant_in_a_replica_scope_stay_on_its_shard()
    {
        var shard = SecondPostgresServer.ConnectionStringFor(_shardDatabase, RlsDatabase.AppRole);
        await using var services = RlsDatabase.Services(database.AppConnectionString(), o =>
        {
            o.Shards["whales"] = shard;
            o.TenantPlacements["replica-whale"] = "whales";
            o.ReplicaConnectionStrings.Add(PostgresReplicaServer.ConnectionStringFor(database.Name, RlsDatabase.AppRole));
            o.MaxReplicaLag = TimeSpan.FromMinutes(1);
        });
        var apis = new RlsApis(services);
        using (apis.Tenants.BeginScope(new TenantId("replica-whale")))
        {
            await using var db = apis.NewContext();
            db.Documents.Add(new Document { TenantId = "replica-whale", Title = "on the shard" });
            await db.SaveChangesAsync();
        }

        const string Where = "SELECT pg_is_in_recovery()::text || ':' || inet_server_port()::text AS \"Value\"";
        await using var context = apis.NewContext();
        using var replicaReads = context.ReadFromReplicas();
        using (apis.Tenants.BeginScope(new TenantId("t02")))
        {
            // The scope works: a tenant of the shared database reads from the replica.
            await TestSignal.UntilAsync(async () => (await context.Database.SqlQueryRaw<string>(Where).SingleAsync()).StartsWith("true:", StringComparison.Ordinal),
                "an EF Core read from the replica");
        }

        using (apis.Tenants.BeginScope(new TenantId("replica-whale")))
        {
            Assert.Equal($"false:{new NpgsqlConnectionStringBuilder(shard).Port}", await context.Database.SqlQueryRaw<string>(Where).SingleAsync());
            Assert.Equal(["on the shard"], await context.Documents.Select(d => d.Title).ToListAsync());
        }
    }

    [Fact]
    public async Task EF_Core_writes_and_reads_a_placed_tenant_on_its_shard_and_the_others_on_the_shared_database()
    {
        var shard = SecondPostgresServer.ConnectionStringFor(_shardDatabase, RlsDatabase.AppRole);
        await using var services = RlsDatabase.Services(database.AppConnectionString(), o =>
        {
            o.Shards["whales"] = shard;
            o.TenantPlacements["ef-whale"] = "whales";
        });
        var apis = new RlsApis(services);

        // One context for several tenants in turn, as a pooled context is: each tenant's rows go to its own database.
        await using (var db = apis.NewContext())
        {
            foreach (var (tenant, expected) in new[] { ("ef-whale", 1), ("ef-small", 1), ("ef-whale", 2) })
            {
                using var scope = apis.Tenants.BeginScope(new TenantId(tenant));
                db.Documents.Add(new Document { TenantId = tenant, Title = "ef placed" });
                db.Documents.Add(new Document { TenantId = tenant, Title = "ef placed too" });
                await db.SaveChangesAsync();
                db.ChangeTracker.Clear();
                Assert.Equal(2 * expected, await db.Documents.CountAsync());
            }
        }

        // A fresh context and the ADO API read the same rows: nothing is split between the databases.
        using (apis.Tenants.BeginScope(new TenantId("ef-whale")))
        {
            await using var db = apis.NewContext();
            Assert.Equal(4, await db.Documents.CountAsync(d => d.Title.StartsWith("ef placed")));
            Assert.Equal(["ef-whale", "ef-whale", "ef-whale", "ef-whale"], await apis.ReadTenantsAsync(Api.Batch));
        }

        await using (var admin = await PostgresServer.OpenAdminAsync(database.Name))
        await using (var command = new NpgsqlCommand(
            "SELECT count(*) FILTER (WHERE tenant_id = 'ef-whale'), count(*) FILTER (WHERE tenant_id = 'ef-small') FROM documents", admin))
        await using (var reader = await command.ExecuteReaderAsync())
        {
            await reader.ReadAsync();
            Assert.Equal(0L, reader.GetInt64(0));
            Assert.Equal(2L, reader.GetInt64(1));
        }

        await using var shardAdmin = NpgsqlDataSource.Create(SecondPostgresServer.ConnectionStringFor(_shardDatabase));
        await using (var onShard = shardAdmin.CreateCommand(
            "SELECT count(*) FILTER (WHERE tenant_id = 'ef-whale'), count(*) FILTER (WHERE tenant_id = 'ef-small') FROM documents"))
        await using (var reader = await onShard.ExecuteReaderAsync())
        {
            await reader.ReadAsync();
            Assert.Equal(4L, reader.GetInt64(0));
            Assert.Equal(0L, reader.GetInt64(1));
        }

        // A connection held open across a change of tenant scope is never used for another database's tenant.
        await using (var db = apis.NewContext())
        {
            using (apis.Tenants.BeginScope(new TenantId("ef-whale")))
            {
                await db.Database.OpenConnectionAsync();
            }

            using (apis.Tenants.BeginScope(new TenantId("ef-small")))
            {
                var refused = await Assert.ThrowsAsync<InvalidOperationException>(() => db.Documents.CountAsync());
                Assert.Contains("runs on an open connection of shard 'whales'", refused.Message, StringComparison.Ordinal);
            }
        }

        // A connection the caller gave the context cannot be routed: opening it for a placed tenant is refused.
        await using (var given = new NpgsqlConnection(database.AppConnectionString()))
        await using (var db = new DocumentsContext(new DbContextOptionsBuilder<DocumentsContext>()
            .UseNpgsql(given).AddInterceptors(services.GetRequiredService<ScaleOps.Rls.EntityFrameworkCore.RlsDbCommandInterceptor>()).Options))
        {
            using (apis.Tenants.BeginScope(new TenantId("ef-small")))
            {
                Assert.Equal(2, await db.Documents.CountAsync());
            }

            using (apis.Tenants.BeginScope(new TenantId("ef-whale")))
            {
                var refused = await Assert.ThrowsAsync<InvalidOperationException>(() => db.Documents.CountAsync());
                Assert.Contains("lives on shard 'whales', but EF Core is opening a connection it did not create", refused.Message, StringComparison.Ordinal);
            }
        }
    }

    [Fact]
    public async Task On_start_the_context_procedure_and_the_policies_reach_every_shard()
    {
        var raw = $"rls_raw_{Environment.ProcessId}_{Guid.NewGuid():N}"[..40];
        await SecondPostgresServer.ExecuteAsync($"CREATE DATABASE \"{raw}\"");
        try
        {
            await SecondPostgresServer.ExecuteAsync(RlsDatabase.SchemaSql.Replace("generate_series(1, 20)", "generate_series(1, 0)", StringComparison.Ordinal), raw);
            var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
            builder.Services.AddScaleOps(o => o.ConnectionString = database.ConnectionString).AddRls(o =>
            {
                foreach (var table in RlsDatabase.Tables())
                {
                    o.Tables.Add(table);
                }

                o.Shards["raw"] = SecondPostgresServer.ConnectionStringFor(raw);
                o.AllowBypassRlsRole = true;
            });
            using (var host = builder.Build())
            {
                await host.StartAsync();
                await host.StopAsync();
            }

            await using var shard = NpgsqlDataSource.Create(SecondPostgresServer.ConnectionStringFor(raw));
            await using var command = shard.CreateCommand(
                "SELECT to_regprocedure('scaleops.rls_set_context(text,text,text[])') IS NOT NULL, "
                + "(SELECT relforcerowsecurity FROM pg_class WHERE oid = 'documents'::regclass), "
                + "(SELECT count(*) FROM pg_policy WHERE polname LIKE 'scaleops\\_%'), "
                + "(SELECT prosrc FROM pg_proc WHERE oid = to_regprocedure('scaleops.rls_set_context(text,text,text[])'))");
            await using var reader = await command.ExecuteReaderAsync();
            await reader.ReadAsync();
            Assert.True(reader.GetBoolean(0));
            Assert.True(reader.GetBoolean(1));
            Assert.Equal(7, reader.GetInt64(2));
            // The latest body (migration rls/0002: one expression), not only the first migration's.
            Assert.Contains("OPERATOR(pg_catalog.||)", reader.GetString(3), System.StringComparison.Ordinal);
        }
        finally
        {
            NpgsqlConnection.ClearAllPools();
            await SecondPostgresServer.ExecuteAsync($"DROP DATABASE IF EXISTS \"{raw}\" WITH (FORCE)");
        }
    }
}
