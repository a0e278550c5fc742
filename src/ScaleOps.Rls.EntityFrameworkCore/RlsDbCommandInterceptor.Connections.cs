using System;
using System.Data.Common;
using System.Threading;
using System.Threading.Tasks;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Diagnostics;
using Npgsql;
using ScaleOps.Data;
using ScaleOps.Rls.Internal;

namespace ScaleOps.Rls.EntityFrameworkCore;

/// <summary>Connections and transactions: placement, replica reads, and what a new transaction forgets.</summary>
public sealed partial class RlsDbCommandInterceptor
{
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
        // EF Core's synchronous API blocks anyway; the replica's health check (bounded by ReplicaCheckTimeout) runs only
        // inside a ReadFromReplicas scope when its cached state is due.
        var routed = RouteAsync(connection, eventData, result, async: false, CancellationToken.None);
        return routed.IsCompleted ? routed.Result : routed.AsTask().GetAwaiter().GetResult();
    }

    /// <inheritdoc />
    public ValueTask<InterceptionResult> ConnectionOpeningAsync(
        DbConnection connection, ConnectionEventData eventData, InterceptionResult result, CancellationToken cancellationToken = default) =>
        RouteAsync(connection, eventData, result, async: true, cancellationToken);

    /// <inheritdoc />
    public DbTransaction TransactionStarted(DbConnection connection, TransactionEndEventData eventData, DbTransaction result)
    {
        Forget(connection);
        return result;
    }

    /// <inheritdoc />
    public ValueTask<DbTransaction> TransactionStartedAsync(
        DbConnection connection, TransactionEndEventData eventData, DbTransaction result, CancellationToken cancellationToken = default)
    {
        Forget(connection);
        return ValueTask.FromResult(result);
    }

    // EF Core began this transaction itself, so no tenant transaction is open on the connection: an owner recorded for
    // it (a tenant transaction that ended on it, whose pooled transaction object Npgsql hands back) does not own this one.
    private static void Forget(DbConnection connection)
    {
        if (connection is NpgsqlConnection npgsql)
        {
            TenantTransactions.Forget(npgsql);
        }
    }

    // Before EF Core opens its (closed) connection: one created for another tenant's database (a pooled context, or
    // one context used under several tenants) is replaced by a connection of this tenant's database. Inside a
    // ReadFromReplicas scope the connection is one of a healthy replica, opened here (so that a replica refusing it
    // falls back to the primary, as for ITenantDataSource) and EF Core's own open suppressed; outside it, a replica
    // connection left from such a scope is replaced by one of the primary.
    private async ValueTask<InterceptionResult> RouteAsync(
        DbConnection connection, ConnectionEventData eventData, InterceptionResult result, bool async, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(connection);
        ArgumentNullException.ThrowIfNull(eventData);
        var tenant = _tenantContext.Tenant;
        var home = _router.HomeOf(tenant);
        var npgsql = connection as NpgsqlConnection;
        var current = npgsql is null ? null : TenantConnections.HomeOf(npgsql);
        if (current is null)
        {
            if (ReferenceEquals(home, _router.HomeOf(null)))
            {
                return result; // the caller's own connection: not routed, not moved to a replica
            }

            throw new InvalidOperationException(
                $"Tenant '{tenant?.Value}' lives on {_router.DescribeHome(home)}, but EF Core is opening a connection it did not "
                + "create (the context was given a DbConnection): ScaleOps cannot route it. Configure the context with "
                + "UseNpgsql(NpgsqlDataSource) so that EF Core creates its connections, or give it an open connection of the tenant's "
                + "database (ITenantDataSource.OpenConnectionAsync or BeginTransactionAsync).");
        }

        var source = TenantConnections.ReplicaOf(npgsql!) ?? current;
        var target = ReplicaReads.Wanted(eventData.Context)
            ? await _router.SelectAsync(tenant, TenantDataAccess.ReadOnly, cancellationToken).ConfigureAwait(false)
            : home;
        if (!ReferenceEquals(target, home))
        {
            var replica = ReferenceEquals(source, target) ? npgsql! : target.CreateConnection();
            try
            {
                if (async)
                {
                    await replica.OpenAsync(cancellationToken).ConfigureAwait(false);
                }
                else
                {
                    replica.Open();
                }

                if (!ReferenceEquals(replica, npgsql))
                {
                    TenantConnections.RegisterReplica(replica, home, target);
                    Replace(eventData, current, replica);
                }

                return InterceptionResult.Suppress(); // opened here
            }
            catch (Exception ex) when (ex is NpgsqlException or TimeoutException && _router.ReplicaOpenFailed(target, ex) is not null)
            {
                // A replica that passed its last check but refuses this connection: read from the primary instead.
                if (!ReferenceEquals(replica, npgsql))
                {
                    await replica.DisposeAsync().ConfigureAwait(false);
                }
            }
        }

        if (!ReferenceEquals(source, home))
        {
            var replacement = home.CreateConnection();
            TenantConnections.Register(replacement, home);
            Replace(eventData, source, replacement);
        }

        return result;
    }

    private void Replace(ConnectionEventData eventData, NpgsqlDataSource from, NpgsqlConnection replacement)
    {
        var context = eventData.Context ?? throw new InvalidOperationException(
            $"RlsDbCommandInterceptor cannot move a connection of {_router.DescribeHome(from)} without its DbContext.");
        var timeout = context.Database.GetCommandTimeout();
        context.Database.SetDbConnection(replacement, contextOwnsConnection: true);
        context.Database.SetCommandTimeout(timeout);
    }
}
