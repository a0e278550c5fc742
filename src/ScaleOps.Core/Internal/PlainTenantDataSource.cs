using System.Data;
using System.Threading;
using System.Threading.Tasks;
using Npgsql;
using ScaleOps.Data;
using ScaleOps.Tenancy;

namespace ScaleOps.Internal;

/// <summary>
/// The default <see cref="ITenantDataSource"/>: plain connections from the shared data source, no tenant context sent
/// to PostgreSQL (the application filters by tenant itself). <c>AddRls</c> replaces it.
/// </summary>
internal sealed class PlainTenantDataSource(NpgsqlDataSource dataSource, ITenantContext tenantContext) : ITenantDataSource
{
    public async ValueTask<TenantConnection> OpenConnectionAsync(
        TenantDataAccess access = TenantDataAccess.ReadWrite, CancellationToken cancellationToken = default)
    {
        var tenant = tenantContext.RequireTenant();
        var connection = await dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        return new TenantConnection(connection, tenant);
    }

    public async ValueTask<TenantTransaction> BeginTransactionAsync(
        IsolationLevel isolationLevel = IsolationLevel.ReadCommitted, CancellationToken cancellationToken = default)
    {
        var tenant = tenantContext.RequireTenant();
        var connection = await dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var transaction = await connection.BeginTransactionAsync(isolationLevel, cancellationToken).ConfigureAwait(false);
            return new TenantTransaction(connection, transaction, tenant);
        }
        catch
        {
            await connection.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }
}
