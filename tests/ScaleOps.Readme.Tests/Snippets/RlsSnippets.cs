namespace ScaleOps.Readme.Tests.Snippets;

internal static class RlsSnippets
{
    public static void Register(WebApplicationBuilder builder, WebApplication app, IServiceCollection services)
    {
        #region readme src/ScaleOps.Rls/README.md 1
        builder.Services.AddScaleOps(o => o.ConnectionString = "Host=db;Username=app;Database=app") // app: NOSUPERUSER NOBYPASSRLS
            .AddRls(o =>
            {
                o.ProtectTenantTable("public", "documents");                       // tenant_id column, any type
                o.Tables.Add(new RlsTable("public", "notes", RlsTableKind.UserOwned) { ExtraRoles = ["admin"] });
                o.Tables.Add(new RlsTable("public", "audit_log", RlsTableKind.RoleOnly) { Role = "auditor" });
                o.BypassConnectionString = "Host=db;Username=app_system;Database=app"; // NOSUPERUSER BYPASSRLS
            });

        // The tenant scope of a request, after app.UseAuthentication(): the tenant, user and roles from the validated token's
        // claims, never from a header the client chooses. A request without them runs without a scope, and its tenant work
        // throws TenantRequiredException (user and roles matter for UserOwned and RoleOnly tables).
        app.Use(async (context, next) =>
        {
            if (!TenantId.TryParse(context.User.FindFirst("tenant_id")?.Value, out var tenant))
            {
                await next(context);
                return;
            }

            var tenants = context.RequestServices.GetRequiredService<ITenantContext>();
            using var scope = tenants.BeginScope(
                tenant, context.User.FindFirst("sub")?.Value, [.. context.User.FindAll("role").Select(c => c.Value)]);
            await next(context);
        });

        // An endpoint, inside that scope:
        app.MapGet("/documents", async (ITenantDataSource data, CancellationToken ct) =>
        {
            await using var db = await data.OpenConnectionAsync(TenantDataAccess.ReadOnly, ct);
            await using var batch = db.CreateBatch("SELECT id, title FROM documents ORDER BY created_at DESC LIMIT $1", 50);
            await using var reader = await batch.ExecuteReaderAsync(ct);   // the context call is invisible to the reader
            // ...
        });

        app.MapPost("/documents", async (ITenantDataSource data, NewDocument doc, CancellationToken ct) =>
        {
            await using var tx = await data.BeginTransactionAsync(cancellationToken: ct);
            await tx.Connection.ExecuteAsync(                                // Dapper, inside the tenant transaction
                "INSERT INTO documents (tenant_id, title) VALUES (current_setting('app.tenant_id'), @Title)", doc, tx.Transaction);
            // quota reservation, jobs.EnqueueAsync(..., tx.Connection, tx.Transaction) ... in the same transaction
            await tx.CommitAsync(ct);                                        // disposing without commit rolls back
        });

        // EF Core (package ScaleOps.Rls.EntityFrameworkCore, builder.AddRlsEntityFrameworkCore()): every command carries the
        // tenant, and a tenant placed on a shard gets connections of its shard (the data source here is the shared one).
        services.AddDbContext<AppDb>((sp, o) => o.UseNpgsql(sp.GetRequiredService<NpgsqlDataSource>())
            .AddInterceptors(sp.GetRequiredService<RlsDbCommandInterceptor>()));
        #endregion
    }

    public static void RegisterEntityFrameworkCore(WebApplicationBuilder builder)
    {
        #region readme src/ScaleOps.Rls.EntityFrameworkCore/README.md 1
        builder.Services.AddScaleOps(o => o.ConnectionString = "Host=db;Username=app;Database=app")
            .AddRls(o => o.ProtectTenantTable("public", "documents"))
            .AddRlsEntityFrameworkCore();                      // calls AddRls() too; calling it twice is harmless

        // AddDbContextFactory registers IDbContextFactory<AppDb> and a scoped AppDb; AddDbContext only the latter.
        builder.Services.AddDbContextFactory<AppDb>((sp, o) => o.UseNpgsql(sp.GetRequiredService<NpgsqlDataSource>())
            .AddInterceptors(sp.GetRequiredService<RlsDbCommandInterceptor>()));
        #endregion
    }

    public static async Task ReadFromReplicasAsync(IDbContextFactory<AppDb> contexts, CancellationToken ct)
    {
        #region readme src/ScaleOps.Rls.EntityFrameworkCore/README.md 2
        await using var db = await contexts.CreateDbContextAsync(ct);        // IDbContextFactory<AppDb>
        using (db.ReadFromReplicas())
        {
            var recent = await db.Orders.OrderByDescending(o => o.CreatedAt).Take(50).ToListAsync(ct);  // a replica
        }

        db.Orders.Add(new Order { CreatedAt = DateTime.UtcNow });
        await db.SaveChangesAsync(ct);                                       // the primary
        #endregion
    }
}

internal sealed record NewDocument(string Title);
