using System;
using System.Linq;
using System.Threading.Tasks;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using ScaleOps.Rls.EntityFrameworkCore;
using ScaleOps.Rls.Tests.Support;
using ScaleOps.Tenancy;

namespace ScaleOps.Rls.Tests.Isolation;

/// <summary>The isolation suite's EF Core cases: SaveChanges, tenant transactions shared with EF Core, Dapper and Npgsql.</summary>
public abstract partial class IsolationSuite
{
    [Fact]
    public async Task EF_Core_tracked_updates_and_deletes_of_the_tenant_s_own_rows_save()
    {
        // SaveChanges checks the rows each UPDATE and DELETE affected (optimistic concurrency): the context call in front
        // of the statement must not change the count it reads.
        await using var services = RlsDatabase.Services(AppConnectionString(5));
        var apis = new RlsApis(services);
        using var scope = apis.Tenants.BeginScope(new TenantId("ef-tracked"));
        await using var db = apis.NewContext();
        var documents = Enumerable.Range(0, 3).Select(i => new Document { TenantId = "ef-tracked", Title = $"tracked {i}" }).ToList();
        db.Documents.AddRange(documents);
        await db.SaveChangesAsync();

        documents[0].Title = "renamed";
        db.Documents.Remove(documents[1]);
        Assert.Equal(2, await db.SaveChangesAsync());
        documents[2].Title = "renamed too";
        Assert.Equal(1, db.SaveChanges());

        await using var check = apis.NewContext();
        Assert.Equal(["renamed", "renamed too"], await check.Documents.OrderBy(d => d.Id).Select(d => d.Title).ToListAsync());
    }

    [Fact]
    public async Task EF_Core_SaveChanges_works_under_a_retrying_execution_strategy()
    {
        // EnableRetryOnFailure refuses transactions begun outside the strategy; the transaction SaveChanges now always
        // uses is EF Core's own, begun inside it.
        await using var services = RlsDatabase.Services(AppConnectionString(5));
        var apis = new RlsApis(services);
        using var scope = apis.Tenants.BeginScope(new TenantId("ef-retry"));
        await using var db = new DocumentsContext(new DbContextOptionsBuilder<DocumentsContext>()
            .UseNpgsql(apis.Raw, o => o.EnableRetryOnFailure())
            .AddInterceptors(services.GetRequiredService<RlsDbCommandInterceptor>())
            .Options);
        var document = new Document { TenantId = "ef-retry", Title = "retry" };
        db.Documents.Add(document);
        await db.SaveChangesAsync();
        document.Title = "retried";
        Assert.Equal(1, await db.SaveChangesAsync());
        Assert.Equal("retried", await db.Documents.Select(d => d.Title).SingleAsync());
    }

    [Fact]
    public async Task EF_Core_SaveChanges_in_an_ambient_TransactionScope_sets_the_context_in_it()
    {
        await using var services = RlsDatabase.Services(AppConnectionString(5));
        var apis = new RlsApis(services);
        using var scope = apis.Tenants.BeginScope(new TenantId("ef-scope"));
        var document = new Document { TenantId = "ef-scope", Title = "in a scope" };
        if (!SupportsTransactionScope)
        {
            // Npgsql refuses the connection inside the scope before anything is sent: the save fails and writes nothing.
            using (new System.Transactions.TransactionScope(System.Transactions.TransactionScopeAsyncFlowOption.Enabled))
            {
                await using var refused = apis.NewContext();
                refused.Documents.Add(document);
                var error = await Assert.ThrowsAnyAsync<Exception>(() => refused.SaveChangesAsync());
                Assert.True(error is NotSupportedException || error.InnerException is NotSupportedException, error.ToString());
            }

            await using var none = apis.NewContext();
            Assert.Equal(0, await none.Documents.CountAsync());
            return;
        }

        using (var transaction = new System.Transactions.TransactionScope(System.Transactions.TransactionScopeAsyncFlowOption.Enabled))
        {
            await using var db = apis.NewContext();
            db.Documents.Add(document);
            await db.SaveChangesAsync();
            document.Title = "renamed in a scope";
            Assert.Equal(1, await db.SaveChangesAsync());
            transaction.Complete();
        }

        await using var check = apis.NewContext();
        Assert.Equal("renamed in a scope", await check.Documents.Select(d => d.Title).SingleAsync());
    }

    [Fact]
    public async Task EF_Core_SaveChanges_under_another_tenant_in_one_transaction_cannot_change_the_first_tenant_s_rows()
    {
        // One EF Core transaction, used under two tenant scopes: a row loaded as t05 and saved as t06 stays t05's.
        await using var services = RlsDatabase.Services(AppConnectionString(5));
        var apis = new RlsApis(services);
        await using var db = apis.NewContext();
        await using (var transaction = await db.Database.BeginTransactionAsync())
        {
            Document loaded;
            using (apis.Tenants.BeginScope(new TenantId("t05")))
            {
                loaded = await db.Documents.OrderBy(d => d.Id).FirstAsync();
                loaded.Title = "renamed as t05";
                Assert.Equal(1, await db.SaveChangesAsync());
            }

            using (apis.Tenants.BeginScope(new TenantId("t06")))
            {
                loaded.Title = "hijacked by t06";
                await Assert.ThrowsAsync<DbUpdateConcurrencyException>(() => db.SaveChangesAsync());
            }
        }

        await using var admin = NpgsqlDataSource.Create(Database.ConnectionString);
        await using var check = admin.CreateCommand("SELECT count(*) FROM documents WHERE title LIKE 'hijacked%' OR title LIKE 'renamed as%'");
        Assert.Equal(0L, await check.ExecuteScalarAsync()); // nothing committed: the transaction was disposed, not committed
    }

    [Fact]
    public async Task EF_Core_SaveChanges_without_a_transaction_is_refused_with_the_reason()
    {
        await using var services = RlsDatabase.Services(AppConnectionString(5));
        var apis = new RlsApis(services);
        using var scope = apis.Tenants.BeginScope(new TenantId("ef-never"));
        await using var db = apis.NewContext();
        db.Database.AutoTransactionBehavior = AutoTransactionBehavior.Never;
        db.Documents.Add(new Document { TenantId = "ef-never", Title = "never" });
        var refused = await Assert.ThrowsAsync<DbUpdateException>(() => db.SaveChangesAsync());
        Assert.Contains("AutoTransactionBehavior.Never", Assert.IsType<InvalidOperationException>(refused.InnerException).Message, StringComparison.Ordinal);

        // With a transaction of its own it saves.
        await using (var transaction = await db.Database.BeginTransactionAsync())
        {
            Assert.Equal(1, await db.SaveChangesAsync());
            await transaction.CommitAsync();
        }

        await using var check = apis.NewContext();
        Assert.Equal(1, await check.Documents.CountAsync());
    }

    [Fact]
    public async Task EF_Core_saves_a_batch_for_its_tenant_and_cannot_touch_another()
    {
        await using var services = RlsDatabase.Services(AppConnectionString(5));
        var apis = new RlsApis(services);
        using var scope = apis.Tenants.BeginScope(new TenantId("ef-a"));
        await using (var db = apis.NewContext())
        {
            db.Documents.AddRange(Enumerable.Range(0, 3).Select(i => new Document { TenantId = "ef-a", Title = $"ef {i}" }));
            await db.SaveChangesAsync();
            await using var rollback = await db.Database.BeginTransactionAsync();
            Assert.Equal(3, await db.Documents.CountAsync());
            Assert.Equal(0, await db.Documents.Where(d => d.TenantId == "t04").ExecuteUpdateAsync(s => s.SetProperty(d => d.Title, "x")));
            Assert.Equal(0, await db.Documents.Where(d => d.TenantId == "t04").ExecuteDeleteAsync());
            Assert.Equal(3, await db.Documents.Where(d => d.Title.StartsWith("ef ")).ExecuteDeleteAsync());
            await rollback.RollbackAsync();
        }

        await using (var db = apis.NewContext())
        {
            db.Documents.Add(new Document { TenantId = "t04", Title = "planted" });
            var ex = await Assert.ThrowsAsync<DbUpdateException>(() => db.SaveChangesAsync());
            Assert.Equal(PostgresErrorCodes.InsufficientPrivilege, OwnerRoles.FindPostgres(ex).SqlState);
        }

        await using (var db = apis.NewContext())
        {
            Assert.Equal(3, await db.Documents.CountAsync());
        }
    }

    [Fact]
    public async Task An_EF_Core_command_under_another_tenant_cannot_take_over_a_tenant_transaction()
    {
        await using var services = RlsDatabase.Services(AppConnectionString(5));
        var apis = new RlsApis(services);
        using var scope = apis.Tenants.BeginScope(new TenantId("t01"));
        await using var tx = await apis.Data.BeginTransactionAsync();
        await using var db = apis.NewContext(tx.Connection);
        await db.Database.UseTransactionAsync(tx.Transaction);
        var own = await db.Documents.CountAsync();

        using (apis.Tenants.BeginScope(new TenantId("t02")))
        {
            // It would send t02's context inside t01's transaction, and the raw commands after it would read t02's rows.
            var refused = await Assert.ThrowsAsync<InvalidOperationException>(() => db.Documents.CountAsync());
            Assert.Contains("transaction of tenant 't01'", refused.Message, StringComparison.Ordinal);
        }

        await using var count = tx.CreateCommand("SELECT count(*) FROM documents WHERE tenant_id <> 't01'");
        Assert.Equal(0L, await count.ExecuteScalarAsync());
        Assert.Equal(own, await db.Documents.CountAsync());
    }

    [Fact]
    public async Task An_EF_Core_command_under_another_tenant_on_a_tenant_transaction_s_connection_without_UseTransaction_is_refused()
    {
        // Without UseTransaction EF Core's command names no transaction, but Npgsql runs it in the connection's open one.
        await using var services = RlsDatabase.Services(AppConnectionString(5));
        var apis = new RlsApis(services);
        using var scope = apis.Tenants.BeginScope(new TenantId("t01"));
        await using var tx = await apis.Data.BeginTransactionAsync();
        await using var db = apis.NewContext(tx.Connection);
        Assert.Equal(1, await db.Documents.CountAsync()); // its own tenant is fine

        using (apis.Tenants.BeginScope(new TenantId("t02")))
        {
            var refused = await Assert.ThrowsAsync<InvalidOperationException>(() => db.Documents.Select(d => d.TenantId).Distinct().ToListAsync());
            Assert.Contains("transaction of tenant 't01'", refused.Message, StringComparison.Ordinal);
        }

        await using var read = tx.CreateCommand("SELECT DISTINCT tenant_id FROM documents");
        Assert.Equal("t01", await read.ExecuteScalarAsync());
        await tx.RollbackAsync();

        // Once the tenant transaction is over, the connection is no longer its.
        using (apis.Tenants.BeginScope(new TenantId("t02")))
        {
            Assert.Equal(2, await db.Documents.CountAsync());
        }
    }

    [Fact]
    public async Task An_EF_Core_command_of_another_user_of_the_same_tenant_cannot_take_over_a_tenant_transaction()
    {
        // alice's transaction must not become carol's (with the admin role) because an EF Core command ran under carol.
        await using var services = RlsDatabase.Services(AppConnectionString(5));
        var apis = new RlsApis(services);
        using var alice = apis.Tenants.BeginScope(new TenantId("t01"), "alice");
        await using var tx = await apis.Data.BeginTransactionAsync();
        await using var db = apis.NewContext(tx.Connection);
        await db.Database.UseTransactionAsync(tx.Transaction);
        Assert.Equal(1, await db.Documents.CountAsync());

        foreach (var (user, roles) in new[] { ("carol", new[] { "admin" }), ("alice", new[] { "admin" }), ("carol", Array.Empty<string>()) })
        {
            using (apis.Tenants.BeginScope(new TenantId("t01"), user, roles))
            {
                var refused = await Assert.ThrowsAsync<InvalidOperationException>(() => db.Documents.CountAsync());
                Assert.Contains("user 'alice', roles []", refused.Message, StringComparison.Ordinal);
            }
        }

        await using var read = tx.CreateCommand("SELECT body FROM notes ORDER BY body");
        var notes = new System.Collections.Generic.List<string>();
        await using (var reader = await read.ExecuteReaderAsync())
        {
            while (await reader.ReadAsync())
            {
                notes.Add(reader.GetString(0));
            }
        }

        Assert.Equal(["alice 1", "alice 2"], notes);
    }

    [Fact]
    public async Task After_a_tenant_transaction_another_tenant_s_EF_Core_transaction_on_the_same_pooled_connection_is_accepted()
    {
        // Npgsql reuses one transaction object per pooled connection: t01's finished transaction must not make the
        // next tenant's EF Core transaction on that connection look like a command inside t01's transaction.
        await using var services = RlsDatabase.Services(AppConnectionString(maxPoolSize: 1));
        var apis = new RlsApis(services);
        foreach (var tenant in new[] { "t03", "t04" })
        {
            using (apis.Tenants.BeginScope(new TenantId("t01")))
            {
                await using var tx = await apis.Data.BeginTransactionAsync();
                await using var command = tx.CreateCommand("SELECT count(*) FROM documents");
                Assert.Equal(1L, await command.ExecuteScalarAsync());
                await tx.CommitAsync();
            }

            using var scope = apis.Tenants.BeginScope(new TenantId(tenant));
            await using var db = apis.NewContext();
            await using (var efTransaction = await db.Database.BeginTransactionAsync())
            {
                Assert.Equal(tenant == "t03" ? 3 : 4, await db.Documents.CountAsync());
                await efTransaction.RollbackAsync();
            }

            // SaveChanges of several commands begins its own transaction too.
            db.Documents.AddRange(new Document { TenantId = tenant, Title = "pooled 1" }, new Document { TenantId = tenant, Title = "pooled 2" });
            await db.SaveChangesAsync();
            Assert.Equal(2, await db.Documents.Where(d => d.Title.StartsWith("pooled ")).ExecuteDeleteAsync());
        }
    }

    [Fact]
    public async Task EF_Core_raw_SQL_with_a_positional_parameter_runs_nothing_and_named_ones_carry_the_tenant()
    {
        // EF Core names every DbParameter of raw SQL (@p0...), so a $1 in the text is bound to nothing: PostgreSQL refuses
        // the statement, and the context call before it, in the same implicit transaction, is rolled back with it.
        await using var services = RlsDatabase.Services(AppConnectionString(5));
        var apis = new RlsApis(services);
        using var scope = apis.Tenants.BeginScope(new TenantId("t02"));
        await using var db = apis.NewContext();
        var refused = await Assert.ThrowsAsync<PostgresException>(() =>
            db.Database.ExecuteSqlRawAsync("UPDATE documents SET title = 'moved' WHERE tenant_id = $1", new NpgsqlParameter { Value = "t02" }));
        Assert.Equal(PostgresErrorCodes.ProtocolViolation, refused.SqlState);
        Assert.Equal(0, await db.Documents.CountAsync(d => d.Title == "moved"));

        // Named parameters work, and the policy still applies: 'not t01' is t02's rows only.
        Assert.Equal(2, await db.Database.SqlQueryRaw<string>("SELECT tenant_id AS \"Value\" FROM documents WHERE tenant_id <> @other",
            new NpgsqlParameter("other", "t01")).CountAsync());
    }

    [Fact]
    public async Task EF_Core_Dapper_and_Npgsql_share_one_tenant_transaction()
    {
        await using var services = RlsDatabase.Services(AppConnectionString(5));
        var apis = new RlsApis(services);
        using var scope = apis.Tenants.BeginScope(new TenantId("tx-a"));
        foreach (var commit in new[] { false, true })
        {
            await using var tx = await apis.Data.BeginTransactionAsync();
            await using (var db = apis.NewContext(tx.Connection))
            {
                await db.Database.UseTransactionAsync(tx.Transaction);
                db.Documents.Add(new Document { TenantId = "tx-a", Title = "ef" });
                await db.SaveChangesAsync();
            }

            await Dapper.SqlMapper.ExecuteAsync(tx.Connection, "INSERT INTO documents (tenant_id, title) VALUES ('tx-a', 'dapper')", transaction: tx.Transaction);
            await using (var count = tx.CreateCommand("SELECT count(*) FROM documents"))
            {
                Assert.Equal(2L, await count.ExecuteScalarAsync());
            }

            if (commit)
            {
                await tx.CommitAsync();
            }
        }

        Assert.Equal(2, (await apis.ReadTenantsAsync(Api.Batch)).Count);
    }
}
