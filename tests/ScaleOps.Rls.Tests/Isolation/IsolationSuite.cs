using System;
using System.Collections.Concurrent;
using System.Linq;
using System.Threading.Tasks;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using ScaleOps.Rls.Tests.Support;
using ScaleOps.Tenancy;
using ScaleOps.TestInfrastructure;

namespace ScaleOps.Rls.Tests.Isolation;

/// <summary>
/// The isolation suite, written once and run against each backend: PostgreSQL directly and through pgbouncer in
/// transaction pooling mode. Every API of the package (batch, read-only batch, transaction, Dapper, EF Core) is checked.
/// </summary>
public abstract partial class IsolationSuite(RlsDatabase database)
{
    protected RlsDatabase Database { get; } = database;

    /// <summary>The application role's connection string for this backend.</summary>
    protected abstract string AppConnectionString(int maxPoolSize);

    /// <summary>Whether Npgsql enlists in System.Transactions on this backend (not with multiplexing).</summary>
    protected virtual bool SupportsTransactionScope => true;

    public static TheoryData<Api> Apis() => [Api.Batch, Api.ReadOnlyBatch, Api.Transaction, Api.Dapper, Api.EfCore];

    [Fact]
    public async Task Thousands_of_interleaved_tenant_operations_over_a_small_pool_never_leak()
    {
        await using var services = RlsDatabase.Services(AppConnectionString(maxPoolSize: 3));
        var apis = new RlsApis(services);
        var failures = new ConcurrentQueue<string>();
        var done = 0;
        const int Workers = 12;
        const int OperationsPerWorker = 250;

        await Task.WhenAll(Enumerable.Range(0, Workers).Select(worker => Task.Run(async () =>
        {
            var random = new Random(1000 + worker);
            for (var i = 0; i < OperationsPerWorker; i++)
            {
                var n = random.Next(1, RlsDatabase.TenantCount + 1);
                var tenant = RlsDatabase.Tenant(n);
                var op = random.Next(8);
                try
                {
                    if (op == 7)
                    {
                        // EF Core SaveChanges (insert, tracked update, delete) in a transaction rolled back, so other
                        // workers' counts stay as seeded: each save sets the context in the transaction first.
                        using var scope = apis.Tenants.BeginScope(new TenantId(tenant));
                        await using var db = apis.NewContext();
                        await using var tx = await db.Database.BeginTransactionAsync();
                        var document = new Document { TenantId = tenant, Title = "ef stress" };
                        db.Documents.Add(document);
                        await db.SaveChangesAsync();
                        document.Title = "ef stress, renamed";
                        await db.SaveChangesAsync();
                        var seen = await db.Documents.Select(d => d.TenantId).ToListAsync();
                        db.Documents.Remove(document);
                        await db.SaveChangesAsync();
                        if (seen.Count != n + 1 || seen.Any(t => t != tenant))
                        {
                            failures.Enqueue($"EF Core as {tenant} saw {seen.Count} rows of {string.Join(",", seen.Distinct())} after its save");
                        }

                        await tx.RollbackAsync();
                    }
                    else if (op == 6)
                    {
                        // Raw work with no tenant on the same pool: must see nothing, whatever ran before on the connection.
                        await using var command = apis.Raw.CreateCommand("SELECT count(*) FROM documents");
                        var leaked = (long)(await command.ExecuteScalarAsync())!;
                        if (leaked != 0)
                        {
                            failures.Enqueue($"no-tenant read saw {leaked} rows");
                        }
                    }
                    else if (op == 5)
                    {
                        // A write that rolls back: the row is visible inside its own transaction only, with its tenant.
                        using var scope = apis.Tenants.BeginScope(new TenantId(tenant));
                        await using var tx = await apis.Data.BeginTransactionAsync();
                        await using var insert = tx.CreateCommand(
                            "INSERT INTO documents (tenant_id, title) VALUES (current_setting('app.tenant_id'), 'temp') RETURNING tenant_id");
                        var written = (string)(await insert.ExecuteScalarAsync())!;
                        await using var count = tx.CreateCommand("SELECT count(*) FROM documents");
                        var seen = (long)(await count.ExecuteScalarAsync())!;
                        if (written != tenant || seen != n + 1)
                        {
                            failures.Enqueue($"{tenant} wrote a row for {written} and saw {seen} rows");
                        }

                        await tx.RollbackAsync();
                    }
                    else
                    {
                        var api = (Api)op;
                        using var scope = apis.Tenants.BeginScope(new TenantId(tenant));
                        var rows = await apis.ReadTenantsAsync(api);
                        if (rows.Count != n || rows.Any(t => t != tenant))
                        {
                            failures.Enqueue($"{api} as {tenant} saw {rows.Count} rows of {string.Join(",", rows.Distinct())}");
                        }
                    }
                }
                catch (Exception ex) when (ex is NpgsqlException or InvalidOperationException or DbUpdateException)
                {
                    failures.Enqueue($"{tenant} op {op}: {ex.Message}");
                }

                System.Threading.Interlocked.Increment(ref done);
            }
        }))).WaitAsync("the interleaved tenant operations", TimeSpan.FromMinutes(3));

        Assert.Equal(Workers * OperationsPerWorker, done);
        Assert.Empty(failures.Take(20));
    }

    [Theory]
    [MemberData(nameof(Apis))]
    public async Task A_tenant_sees_only_its_rows(Api api)
    {
        await using var services = RlsDatabase.Services(AppConnectionString(5));
        var apis = new RlsApis(services);
        foreach (var n in new[] { 1, 7, 20 })
        {
            using var scope = apis.Tenants.BeginScope(new TenantId(RlsDatabase.Tenant(n)));
            var rows = await apis.ReadTenantsAsync(api);
            Assert.Equal(n, rows.Count);
            Assert.All(rows, t => Assert.Equal(RlsDatabase.Tenant(n), t));
        }
    }

    [Theory]
    [MemberData(nameof(Apis))]
    public async Task Cross_tenant_insert_update_and_delete_are_rejected(Api api)
    {
        await using var services = RlsDatabase.Services(AppConnectionString(5));
        var apis = new RlsApis(services);
        using var scope = apis.Tenants.BeginScope(new TenantId("t01"));

        var insert = await Assert.ThrowsAnyAsync<Exception>(() =>
            apis.ExecuteAsync(api, "INSERT INTO documents (tenant_id, title) VALUES (@a, 'planted')", new { a = "t02" }));
        Assert.Equal(PostgresErrorCodes.InsufficientPrivilege, OwnerRoles.FindPostgres(insert).SqlState);

        Assert.Equal(0, await apis.ExecuteAsync(api, "UPDATE documents SET title = 'hacked' WHERE tenant_id = @a", new { a = "t02" }));
        Assert.Equal(0, await apis.ExecuteAsync(api, "DELETE FROM documents WHERE tenant_id = @a", new { a = "t02" }));

        var move = await Assert.ThrowsAnyAsync<Exception>(() =>
            apis.ExecuteAsync(api, "UPDATE documents SET tenant_id = @a WHERE tenant_id = 't01'", new { a = "t02" }));
        Assert.Equal(PostgresErrorCodes.InsufficientPrivilege, OwnerRoles.FindPostgres(move).SqlState);

        await using var admin = NpgsqlDataSource.Create(Database.ConnectionString);
        await using var check = admin.CreateCommand("SELECT count(*) FILTER (WHERE title = 'hacked'), count(*) FROM documents WHERE tenant_id = 't02'");
        await using var reader = await check.ExecuteReaderAsync();
        await reader.ReadAsync();
        Assert.Equal(0, reader.GetInt64(0));
        Assert.Equal(2, reader.GetInt64(1));
    }

    [Fact]
    public async Task With_no_tenant_or_after_a_reset_tenant_tables_show_no_rows()
    {
        await using var services = RlsDatabase.Services(AppConnectionString(maxPoolSize: 1));
        var apis = new RlsApis(services);
        await Assert.ThrowsAsync<TenantRequiredException>(async () => await apis.Data.OpenConnectionAsync());
        await Assert.ThrowsAsync<TenantRequiredException>(async () => await apis.Data.BeginTransactionAsync());

        Assert.Equal(0L, await RawCountAsync(apis, "SELECT count(*) FROM documents"));
        await using (var db = apis.NewContext())
        {
            Assert.Equal(0, await db.Documents.CountAsync());
        }

        // The same pooled connection right after tenant work: the transaction-local setting is gone ('').
        using (apis.Tenants.BeginScope(new TenantId("t05")))
        {
            await using var tx = await apis.Data.BeginTransactionAsync();
            await using var command = tx.CreateCommand("SELECT count(*) FROM documents");
            Assert.Equal(5L, await command.ExecuteScalarAsync());
            await tx.CommitAsync();
        }

        Assert.Equal(0L, await RawCountAsync(apis, "SELECT count(*) FROM documents"));
        Assert.Equal(0L, await RawCountAsync(apis, "SELECT count(*) FROM accounts"));
        Assert.Equal(0L, await RawCountAsync(apis, "SELECT set_config('app.tenant_id', '', true), (SELECT count(*) FROM documents)", column: 1));

        // A context sent inside the batch wins over anything left on the session.
        using (apis.Tenants.BeginScope(new TenantId("t02")))
        {
            Assert.Equal(2, (await apis.ReadTenantsAsync(Api.Batch)).Count);
        }
    }

    [Fact]
    public async Task Hostile_tenant_ids_are_only_data()
    {
        await using var services = RlsDatabase.Services(AppConnectionString(5));
        var apis = new RlsApis(services);
        string[] hostile =
        [
            "'; DROP TABLE documents; --", "t01' OR '1'='1", "t01\" OR 1=1 --", "$1", "%", "\\x00", "テナント🙂", "t01 ", "T01",
            new string('x', TenantId.MaxLength),
        ];
        foreach (var id in hostile.Where(h => TenantId.Validate(h) is null))
        {
            using var scope = apis.Tenants.BeginScope(new TenantId(id));
            Assert.Equal(1, await apis.ExecuteAsync(Api.Transaction, "INSERT INTO documents (tenant_id, title) VALUES (@a, 'mine')", new { a = id }));
            foreach (var api in new[] { Api.Batch, Api.Dapper, Api.EfCore })
            {
                var rows = await apis.ReadTenantsAsync(api);
                Assert.Equal([id], rows);
            }

            // A uuid-keyed table cannot even parse such a tenant: rejected, never widened.
            await using var connection = await apis.Data.OpenConnectionAsync();
            await using var batch = connection.CreateBatch("SELECT count(*) FROM accounts");
            var ex = await Assert.ThrowsAsync<PostgresException>(async () => await batch.ExecuteScalarAsync());
            Assert.Equal(PostgresErrorCodes.InvalidTextRepresentation, ex.SqlState);
        }

        Assert.Throws<ArgumentException>(() => new TenantId(""));
        Assert.Throws<ArgumentException>(() => new TenantId(new string('x', TenantId.MaxLength + 1)));
        Assert.Throws<ArgumentException>(() => new TenantId("t01\0"));
        Assert.Equal(210L, await RawAdminCountAsync("SELECT count(*) FROM documents WHERE tenant_id ~ '^t[0-9]{2}$'"));
    }

    [Fact]
    public async Task A_uuid_keyed_table_is_isolated_too()
    {
        await using var services = RlsDatabase.Services(AppConnectionString(5));
        var apis = new RlsApis(services);
        using var scope = apis.Tenants.BeginScope(new TenantId(RlsDatabase.AccountTenantA.ToString()));
        await using var connection = await apis.Data.OpenConnectionAsync();
        await using var batch = connection.CreateBatch("SELECT count(*), count(*) FILTER (WHERE tenant_id = $1) FROM accounts", RlsDatabase.AccountTenantA);
        await using var reader = await batch.ExecuteReaderAsync();
        await reader.ReadAsync();
        Assert.Equal(2, reader.GetInt64(0));
        Assert.Equal(2, reader.GetInt64(1));
    }

    private static async Task<long> RawCountAsync(RlsApis apis, string sql, int column = 0)
    {
        await using var command = apis.Raw.CreateCommand(sql);
        await using var reader = await command.ExecuteReaderAsync();
        await reader.ReadAsync();
        return reader.GetInt64(column);
    }

    private async Task<long> RawAdminCountAsync(string sql)
    {
        await using var admin = await PostgresServer.OpenAdminAsync(Database.Name);
        await using var command = new NpgsqlCommand(sql, admin);
        return (long)(await command.ExecuteScalarAsync())!;
    }

    [Fact]
    public async Task A_tenant_batch_with_error_barriers_runs_its_statement_as_the_tenant()
    {
        // The context command has no error barrier after it: it shares its implicit transaction with the statement.
        await using var services = RlsDatabase.Services(AppConnectionString(5));
        var apis = new RlsApis(services);
        using var scope = apis.Tenants.BeginScope(new TenantId("t03"));
        await using var connection = await apis.Data.OpenConnectionAsync();
        await using (var batch = connection.CreateBatch("SELECT count(*) FROM documents"))
        {
            batch.EnableErrorBarriers = true;
            Assert.Equal(3L, await batch.ExecuteScalarAsync());
        }

        await using var write = connection.CreateBatch("INSERT INTO documents (tenant_id, title) VALUES ('t04', 'planted')");
        write.EnableErrorBarriers = true;
        await Assert.ThrowsAsync<PostgresException>(() => write.ExecuteNonQueryAsync());
    }
}

public sealed class DirectIsolationTests(RlsDatabase database) : IsolationSuite(database), IClassFixture<RlsDatabase>
{
    protected override string AppConnectionString(int maxPoolSize) => Database.AppConnectionString(maxPoolSize);
}

public sealed class PgBouncerIsolationTests(RlsDatabase database) : IsolationSuite(database), IClassFixture<RlsDatabase>
{
    protected override string AppConnectionString(int maxPoolSize) =>
        PgBouncerServer.ConnectionStringFor(Database.Name, RlsDatabase.AppRole, maxPoolSize);
}

/// <summary>
/// Npgsql multiplexing (<c>Multiplexing=true</c>): commands of many connections share physical connections, but a batch
/// (the context call and the statement) and a transaction are each written to one physical connection as a unit.
/// </summary>
public sealed class MultiplexingIsolationTests(RlsDatabase database) : IsolationSuite(database), IClassFixture<RlsDatabase>
{
    protected override string AppConnectionString(int maxPoolSize) =>
        new NpgsqlConnectionStringBuilder(Database.AppConnectionString(maxPoolSize)) { Multiplexing = true }.ToString();

    // Npgsql refuses to open a multiplexing connection inside a TransactionScope (NotSupportedException), before
    // anything is sent: nothing of the tenant's to check there.
    protected override bool SupportsTransactionScope => false;
}
