using System;
using System.Data;
using System.Threading;
using System.Threading.Tasks;
using Npgsql;
using ScaleOps.Data;
using ScaleOps.Tenancy;

namespace ScaleOps.Rls.Internal;

/// <summary>
/// The row-level security <see cref="ITenantDataSource"/>: every batch starts with the tenant context (same round trip,
/// transaction-local), every transaction sets it right after BEGIN (sent together), and the router picks the instance.
/// </summary>
internal sealed class RlsTenantDataSource(ITenantContext tenantContext, TenantRouter router, TenantContextCommand context, RlsMetrics metrics)
    : ITenantDataSource
{
    public async ValueTask<TenantConnection> OpenConnectionAsync(
        TenantDataAccess access = TenantDataAccess.ReadWrite, CancellationToken cancellationToken = default)
    {
        var tenant = tenantContext.RequireTenant();
        var userId = tenantContext.UserId;
        var roles = tenantContext.Roles;
        TenantContextCommand.Check(userId, roles);
        var dataSource = await router.SelectAsync(tenant, access, cancellationToken).ConfigureAwait(false);
        NpgsqlConnection connection;
        try
        {
            connection = await dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is NpgsqlException or TimeoutException && router.ReplicaOpenFailed(dataSource, ex) is { } primary)
        {
            // A replica that passed its last check but refuses this connection: read from the primary instead.
            connection = await primary.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        }

        TenantConnections.Register(connection, router.HomeOf(tenant));
        metrics.SessionOpened(transaction: false);
        return new TenantConnection(connection, tenant, () => context.Create(tenant, userId, roles));
    }

    public async ValueTask<TenantTransaction> BeginTransactionAsync(
        IsolationLevel isolationLevel = IsolationLevel.ReadCommitted, CancellationToken cancellationToken = default)
    {
        var tenant = tenantContext.RequireTenant();
        var userId = tenantContext.UserId;
        var roles = tenantContext.Roles;
        TenantContextCommand.Check(userId, roles);
        var dataSource = await router.SelectAsync(tenant, TenantDataAccess.ReadWrite, cancellationToken).ConfigureAwait(false);
        var connection = await dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        TenantConnections.Register(connection, router.HomeOf(tenant));
        try
        {
            // Npgsql sends BEGIN lazily with the next command: BEGIN and the context travel in one round trip.
            var transaction = await connection.BeginTransactionAsync(isolationLevel, cancellationToken).ConfigureAwait(false);
            await using (var batch = new NpgsqlBatch(connection, transaction))
            {
                batch.BatchCommands.Add(context.Create(tenant, userId, roles));
                await batch.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
            }

            TenantTransactions.Register(transaction, connection, tenant, userId, roles);
            metrics.SessionOpened(transaction: true);
            return new TenantTransaction(connection, transaction, tenant);
        }
        catch
        {
            await connection.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }
}
