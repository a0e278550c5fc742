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
/// Makes every EF Core command (queries, <c>SaveChanges</c> batches, raw SQL) carry the ambient tenant: the command
/// text is prefixed with the tenant context procedure call, which returns no result set, so the context and the work
/// travel in one round trip and one transaction. With no tenant in scope the context is sent empty, so nothing
/// inherited from an earlier command in the same transaction survives: tenant tables show no rows.
/// Register it with <c>AddRlsEntityFrameworkCore()</c> and add it to the context with
/// <c>optionsBuilder.AddInterceptors(serviceProvider.GetRequiredService&lt;RlsDbCommandInterceptor&gt;())</c>.
/// </summary>
public sealed class RlsDbCommandInterceptor : DbCommandInterceptor
{
    private const string TenantParameter = "__scaleops_tenant";
    private const string UserParameter = "__scaleops_user";
    private const string RolesParameter = "__scaleops_roles";

    private readonly ITenantContext _tenantContext;
    private readonly TenantContextCommand _context;

    internal RlsDbCommandInterceptor(ITenantContext tenantContext, TenantContextCommand context)
    {
        _tenantContext = tenantContext;
        _context = context;
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
