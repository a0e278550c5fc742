using System;
using System.Data.Common;
using System.Threading;
using System.Threading.Tasks;
using Microsoft.EntityFrameworkCore.Diagnostics;
using Npgsql;
using ScaleOps.Rls.Internal;
using ScaleOps.Tenancy;

namespace ScaleOps.Rls.EntityFrameworkCore;

/// <summary>
/// Makes every EF Core command (queries, <c>ExecuteUpdate</c>/<c>ExecuteDelete</c>, raw SQL, <c>SaveChanges</c>) carry
/// the ambient tenant: the command text is prefixed with the tenant context procedure call, which returns no result
/// set, so the context and the work travel in one round trip and one transaction. <c>SaveChanges</c> is the exception:
/// it runs in a transaction in which the context is set first (see RlsDbCommandInterceptor.SaveChanges.cs). With no
/// tenant in scope the context is sent empty, so nothing inherited from an earlier command in the same transaction
/// survives: tenant tables show no rows.
/// It also routes EF Core's connections like <see cref="ScaleOps.Data.ITenantDataSource"/>: a tenant placed on a shard
/// (<see cref="RlsOptions.TenantPlacements"/>) works on that shard, every other tenant on the shared database the
/// context is configured with. A connection EF Core creates is created from the tenant's database, and one that was
/// created for another tenant's database is replaced before it opens, so a pooled or long-lived context never carries
/// one tenant's placement into another's work; a command on an open connection of another database is refused.
/// Register it with <c>AddRlsEntityFrameworkCore()</c> and add it to the context with
/// <c>optionsBuilder.AddInterceptors(serviceProvider.GetRequiredService&lt;RlsDbCommandInterceptor&gt;())</c>.
/// </summary>
public sealed partial class RlsDbCommandInterceptor : DbCommandInterceptor, IDbConnectionInterceptor, IDbTransactionInterceptor, ISaveChangesInterceptor
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
    public override InterceptionResult<DbDataReader> ReaderExecuting(DbCommand command, CommandEventData eventData, InterceptionResult<DbDataReader> result)
    {
        Apply(command, eventData);
        return result;
    }

    /// <inheritdoc />
    public override ValueTask<InterceptionResult<DbDataReader>> ReaderExecutingAsync(
        DbCommand command, CommandEventData eventData, InterceptionResult<DbDataReader> result, CancellationToken cancellationToken = default) =>
        After(ApplyAsync(command, eventData, async: true, cancellationToken), result);

    /// <inheritdoc />
    public override InterceptionResult<int> NonQueryExecuting(DbCommand command, CommandEventData eventData, InterceptionResult<int> result)
    {
        Apply(command, eventData);
        return result;
    }

    /// <inheritdoc />
    public override ValueTask<InterceptionResult<int>> NonQueryExecutingAsync(
        DbCommand command, CommandEventData eventData, InterceptionResult<int> result, CancellationToken cancellationToken = default) =>
        After(ApplyAsync(command, eventData, async: true, cancellationToken), result);

    /// <inheritdoc />
    public override InterceptionResult<object> ScalarExecuting(DbCommand command, CommandEventData eventData, InterceptionResult<object> result)
    {
        Apply(command, eventData);
        return result;
    }

    /// <inheritdoc />
    public override ValueTask<InterceptionResult<object>> ScalarExecutingAsync(
        DbCommand command, CommandEventData eventData, InterceptionResult<object> result, CancellationToken cancellationToken = default) =>
        After(ApplyAsync(command, eventData, async: true, cancellationToken), result);

    // The result once the context is applied; no state machine when it was applied synchronously (a prefix).
    private static ValueTask<T> After<T>(ValueTask applied, T result)
    {
        return applied.IsCompletedSuccessfully ? ValueTask.FromResult(result) : AwaitAsync(applied, result);

        static async ValueTask<T> AwaitAsync(ValueTask applied, T result)
        {
            await applied.ConfigureAwait(false);
            return result;
        }
    }

    // The synchronous path runs synchronously to the end (no await inside completes asynchronously with async: false).
    private void Apply(DbCommand command, CommandEventData eventData)
    {
        var applied = ApplyAsync(command, eventData, async: false, CancellationToken.None);
        if (!applied.IsCompletedSuccessfully)
        {
            applied.AsTask().GetAwaiter().GetResult(); // rethrows
        }
    }

    private ValueTask ApplyAsync(DbCommand command, CommandEventData eventData, bool async, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(eventData);
        var npgsql = Check(command);
        if (eventData.CommandSource == CommandSource.SaveChanges)
        {
            return SetContextForSaveAsync(npgsql, async, cancellationToken);
        }

        // Migrations (Database.Migrate through the application's context) get no context call: DDL needs none, a data
        // step on a protected table sees no rows either way (no tenant), and a statement that cannot run in a
        // transaction block (CREATE INDEX CONCURRENTLY) would fail in a two-statement batch.
        if (eventData.CommandSource == CommandSource.Migrations)
        {
            return ValueTask.CompletedTask;
        }

        Prefix(npgsql);
        return ValueTask.CompletedTask;
    }

    // The refusals every command goes through, SaveChanges' included.
    private NpgsqlCommand Check(DbCommand command)
    {
        ArgumentNullException.ThrowIfNull(command);
        if (command is not NpgsqlCommand npgsql)
        {
            throw new InvalidOperationException($"RlsDbCommandInterceptor needs Npgsql commands; got {command.GetType().FullName}.");
        }

        // In a tenant transaction the context (tenant, user, roles) was set by BEGIN and lasts until its end: a command on
        // that connection under another ambient context would re-set it there, and every later command of the
        // transaction would run as the other tenant or user. The connection is checked, not the command's transaction:
        // EF Core given the connection without UseTransaction leaves that null, yet Npgsql runs the command in the
        // connection's open transaction.
        if (npgsql.Connection is { } owned && TenantTransactions.OwnerOn(owned) is { } owner
            && !owner.Matches(_tenantContext.Tenant, _tenantContext.UserId, _tenantContext.Roles))
        {
            throw new InvalidOperationException(
                $"An EF Core command runs on a connection in the transaction of tenant '{owner.Tenant}' "
                + $"({TenantTransactions.Owner.Describe(owner.Tenant, owner.UserId, owner.Roles)}) while the ambient context is "
                + $"{TenantTransactions.Owner.Describe(_tenantContext.Tenant?.Value, _tenantContext.UserId, _tenantContext.Roles)}: it would set "
                + "its context inside that transaction. Run it in the transaction's own tenant scope, or use a context of its own.");
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

        return npgsql;
    }

    private void Prefix(NpgsqlCommand npgsql)
    {
        foreach (NpgsqlParameter p in npgsql.Parameters)
        {
            if (string.IsNullOrEmpty(p.ParameterName))
            {
                throw new InvalidOperationException(
                    "RlsDbCommandInterceptor cannot prefix a command with positional ($1) parameters; use named parameters in raw SQL.");
            }
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

        TenantContextCommand.Check(_tenantContext.UserId, _tenantContext.Roles);
        npgsql.Parameters.Add(TenantContextCommand.Text(_tenantContext.Tenant?.Value, TenantParameter));
        npgsql.Parameters.Add(TenantContextCommand.Text(_tenantContext.UserId, UserParameter));
        npgsql.Parameters.Add(TenantContextCommand.Roles(_tenantContext.Roles, RolesParameter));
    }
}
