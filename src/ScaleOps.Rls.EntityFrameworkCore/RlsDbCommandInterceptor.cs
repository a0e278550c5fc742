using System;
using System.Data.Common;
using System.Threading;
using System.Threading.Tasks;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Diagnostics;
using Npgsql;
using ScaleOps.Rls.Internal;
using ScaleOps.Tenancy;

namespace ScaleOps.Rls.EntityFrameworkCore;

/// <summary>
/// Makes every EF Core command (queries, <c>SaveChanges</c> batches, raw SQL) carry the ambient tenant: the command
/// text is prefixed with the tenant context procedure call, which returns no result set, so the context and the work
/// travel in one round trip and one transaction. With no tenant in scope the context is sent empty, so nothing
/// inherited from an earlier command in the same transaction survives: tenant tables show no rows.
/// It also routes EF Core's connections like <see cref="ScaleOps.Data.ITenantDataSource"/>: a tenant placed on a shard
/// (<see cref="RlsOptions.TenantPlacements"/>) works on that shard, every other tenant on the shared database the
/// context is configured with. A connection EF Core creates is created from the tenant's database, and one that was
/// created for another tenant's database is replaced before it opens, so a pooled or long-lived context never carries
/// one tenant's placement into another's work; a command on an open connection of another database is refused.
/// Register it with <c>AddRlsEntityFrameworkCore()</c> and add it to the context with
/// <c>optionsBuilder.AddInterceptors(serviceProvider.GetRequiredService&lt;RlsDbCommandInterceptor&gt;())</c>.
/// </summary>
public sealed class RlsDbCommandInterceptor : DbCommandInterceptor, IDbConnectionInterceptor, IDbTransactionInterceptor
{
    private const string TenantParameter = "__scaleops_tenant";
    private const string UserParameter = "__scaleops_user";
    private const string RolesParameter = "__scaleops_roles";

    private readonly ITenantContext _tenantContext;
    private readonly TenantContextCommand _context;
    private readonly TenantRouter _router;

    internal RlsDbCommandInterceptor(ITenantContext tenantContext, TenantContextCommand context, TenantRouter router)
    {
        _tenantContext = tenantContext;
        _context = context;
        _router = router;
    }

    /// <inheritdoc />
    public InterceptionResult<DbConnection> ConnectionCreating(ConnectionCreatingEventData eventData, InterceptionResult<DbConnection> result)
    {
        // A placed tenant's context gets a connection of its shard; others keep the one EF Core creates from the
        // configured (shared) data source.
        var home = _router.HomeOf(_tenantContext.Tenant);
        if (result.HasResult || ReferenceEquals(home, _router.HomeOf(null)))
        {
            return result;
        }

        var connection = home.CreateConnection();
        TenantConnections.Register(connection, home);
        return InterceptionResult<DbConnection>.SuppressWithResult(connection);
    }

    /// <inheritdoc />
    public DbConnection ConnectionCreated(ConnectionCreatedEventData eventData, DbConnection result)
    {
        if (result is NpgsqlConnection npgsql && TenantConnections.HomeOf(npgsql) is null)
        {
            TenantConnections.Register(npgsql, _router.HomeOf(null));
        }

        return result;
    }

    /// <inheritdoc />
    public InterceptionResult ConnectionOpening(DbConnection connection, ConnectionEventData eventData, InterceptionResult result)
    {
        Route(connection, eventData);
        return result;
    }

    /// <inheritdoc />
    public ValueTask<InterceptionResult> ConnectionOpeningAsync(
        DbConnection connection, ConnectionEventData eventData, InterceptionResult result, CancellationToken cancellationToken = default)
    {
        Route(connection, eventData);
        return ValueTask.FromResult(result);
    }

    /// <inheritdoc />
    public DbTransaction TransactionStarted(DbConnection connection, TransactionEndEventData eventData, DbTransaction result)
    {
        Forget(result);
        return result;
    }

    /// <inheritdoc />
    public ValueTask<DbTransaction> TransactionStartedAsync(
        DbConnection connection, TransactionEndEventData eventData, DbTransaction result, CancellationToken cancellationToken = default)
    {
        Forget(result);
        return ValueTask.FromResult(result);
    }

    // EF Core began this transaction itself: Npgsql may hand back the transaction object of a tenant transaction that
    // ran earlier on the same pooled connection, and that tenant does not own this one.
    private static void Forget(DbTransaction transaction)
    {
        if (transaction is NpgsqlTransaction npgsql)
        {
            TenantTransactions.Forget(npgsql);
        }
    }

    // Before EF Core opens its (closed) connection: one created for another tenant's database (a pooled context, or
    // one context used under several tenants) is replaced by a connection of this tenant's database.
    private void Route(DbConnection connection, ConnectionEventData eventData)
    {
        ArgumentNullException.ThrowIfNull(connection);
        ArgumentNullException.ThrowIfNull(eventData);
        var home = _router.HomeOf(_tenantContext.Tenant);
        var current = connection is NpgsqlConnection npgsql ? TenantConnections.HomeOf(npgsql) : null;
        if (ReferenceEquals(current, home))
        {
            return;
        }

        if (current is null)
        {
            if (ReferenceEquals(home, _router.HomeOf(null)))
            {
                return;
            }

            throw new InvalidOperationException(
                $"Tenant '{_tenantContext.Tenant?.Value}' lives on {_router.DescribeHome(home)}, but EF Core is opening a connection it did not "
                + "create (the context was given a DbConnection): ScaleOps cannot route it. Configure the context with "
                + "UseNpgsql(NpgsqlDataSource) so that EF Core creates its connections, or give it an open connection of the tenant's "
                + "database (ITenantDataSource.OpenConnectionAsync or BeginTransactionAsync).");
        }

        var context = eventData.Context ?? throw new InvalidOperationException(
            $"RlsDbCommandInterceptor cannot move a connection of {_router.DescribeHome(current)} to {_router.DescribeHome(home)} without its DbContext.");
        var replacement = home.CreateConnection();
        TenantConnections.Register(replacement, home);
        var timeout = context.Database.GetCommandTimeout();
        context.Database.SetDbConnection(replacement, contextOwnsConnection: true);
        context.Database.SetCommandTimeout(timeout);
    }

    /// <inheritdoc />
    public override InterceptionResult<DbDataReader> ReaderExecuting(DbCommand command, CommandEventData eventData, InterceptionResult<DbDataReader> result)
    {
        Prefix(command);
        return result;
    }

    /// <inheritdoc />
    public override ValueTask<InterceptionResult<DbDataReader>> ReaderExecutingAsync(
        DbCommand command, CommandEventData eventData, InterceptionResult<DbDataReader> result, CancellationToken cancellationToken = default)
    {
        Prefix(command);
        return ValueTask.FromResult(result);
    }

    /// <inheritdoc />
    public override InterceptionResult<int> NonQueryExecuting(DbCommand command, CommandEventData eventData, InterceptionResult<int> result)
    {
        Prefix(command);
        return result;
    }

    /// <inheritdoc />
    public override ValueTask<InterceptionResult<int>> NonQueryExecutingAsync(
        DbCommand command, CommandEventData eventData, InterceptionResult<int> result, CancellationToken cancellationToken = default)
    {
        Prefix(command);
        return ValueTask.FromResult(result);
    }

    /// <inheritdoc />
    public override InterceptionResult<object> ScalarExecuting(DbCommand command, CommandEventData eventData, InterceptionResult<object> result)
    {
        Prefix(command);
        return result;
    }

    /// <inheritdoc />
    public override ValueTask<InterceptionResult<object>> ScalarExecutingAsync(
        DbCommand command, CommandEventData eventData, InterceptionResult<object> result, CancellationToken cancellationToken = default)
    {
        Prefix(command);
        return ValueTask.FromResult(result);
    }

    private void Prefix(DbCommand command)
    {
        ArgumentNullException.ThrowIfNull(command);
        if (command is not NpgsqlCommand npgsql)
        {
            throw new InvalidOperationException($"RlsDbCommandInterceptor needs Npgsql commands; got {command.GetType().FullName}.");
        }

        foreach (NpgsqlParameter p in npgsql.Parameters)
        {
            if (string.IsNullOrEmpty(p.ParameterName))
            {
                throw new InvalidOperationException(
                    "RlsDbCommandInterceptor cannot prefix a command with positional ($1) parameters; use named parameters in raw SQL.");
            }
        }

        // In a tenant transaction the context was set by BEGIN and lasts until its end: a command under another ambient
        // tenant would re-set it there, and every later command of that transaction would run as the other tenant.
        if (npgsql.Transaction is { } transaction && TenantTransactions.OwnerOf(transaction) is { } owner
            && !string.Equals(owner, _tenantContext.Tenant?.Value, StringComparison.Ordinal))
        {
            throw new InvalidOperationException(
                $"An EF Core command runs in the transaction of tenant '{owner}' while the ambient tenant is "
                + $"'{_tenantContext.Tenant?.Value ?? "(none)"}': it would set its context inside that transaction. Run it in the transaction's own tenant scope.");
        }

        // A connection of another database (opened explicitly, then the tenant scope changed) would put this tenant's
        // rows where its other APIs never look.
        if (npgsql.Connection is { } connection && TenantConnections.HomeOf(connection) is { } current
            && !ReferenceEquals(current, _router.HomeOf(_tenantContext.Tenant)))
        {
            throw new InvalidOperationException(
                $"An EF Core command for tenant '{_tenantContext.Tenant?.Value ?? "(none)"}', which lives on "
                + $"{_router.DescribeHome(_router.HomeOf(_tenantContext.Tenant))}, runs on an open connection of {_router.DescribeHome(current)}. "
                + "Close the connection (or use a new context) when the tenant scope changes.");
        }

        if (!npgsql.CommandText.StartsWith(_context.NamedCommandText, StringComparison.Ordinal))
        {
            npgsql.CommandText = _context.NamedCommandText + "\n" + npgsql.CommandText;
        }

        foreach (var name in (ReadOnlySpan<string>)[TenantParameter, UserParameter, RolesParameter])
        {
            if (npgsql.Parameters.Contains(name))
            {
                npgsql.Parameters.RemoveAt(name);
            }
        }

        npgsql.Parameters.Add(TenantContextCommand.Text(_tenantContext.Tenant?.Value, TenantParameter));
        npgsql.Parameters.Add(TenantContextCommand.Text(_tenantContext.UserId, UserParameter));
        npgsql.Parameters.Add(TenantContextCommand.Roles(_tenantContext.Roles, RolesParameter));
    }
}
