using System;
using System.Threading;
using System.Threading.Tasks;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Npgsql;
using ScaleOps.Rls.Internal;
using ScaleOps.Tenancy;

namespace ScaleOps.Rls;

/// <summary>
/// The explicit way out of tenant isolation for system work (maintenance, cross-tenant reports): a connection as the
/// separate role of <see cref="RlsOptions.BypassConnectionString"/> (NOSUPERUSER, BYPASSRLS). Every opening is logged
/// with its reason and counted. A superuser role is refused: system work never runs as a superuser.
/// </summary>
/// <remarks>
/// It connects to the one database of <see cref="RlsOptions.BypassConnectionString"/> (normally the shared primary),
/// not to the shards of <see cref="RlsOptions.Shards"/>: a cross-tenant report through it does not see the tenants
/// placed on a shard. Report over a shard through a connection of the same kind of role on that shard.
/// </remarks>
public sealed class RlsBypass : IAsyncDisposable, IDisposable
{
    private readonly RlsOptions _options;
    private readonly ITenantContext _tenantContext;
    private readonly ILogger<RlsBypass> _logger;
    private readonly RlsMetrics _metrics;
    private readonly Lazy<NpgsqlDataSource> _dataSource;
    private int _verified;

    internal RlsBypass(
        IOptions<RlsOptions> options, ITenantContext tenantContext, ILogger<RlsBypass> logger, RlsMetrics metrics, ScaleOpsOptions core,
        ILoggerFactory loggerFactory)
    {
        _options = options.Value;
        _tenantContext = tenantContext;
        _logger = logger;
        _metrics = metrics;
        _dataSource = new Lazy<NpgsqlDataSource>(() => RlsDataSources.Build(_options.BypassConnectionString
            ?? throw new InvalidOperationException(
                "The RLS bypass scope is not configured: set ScaleOps:Rls:BypassConnectionString to a NOSUPERUSER BYPASSRLS role."),
            core, loggerFactory));
    }

    /// <summary>Opens a connection that sees every tenant's rows.</summary>
    /// <param name="reason">Why, for the log (for example <c>nightly usage report</c>).</param>
    /// <param name="cancellationToken">Cancels the open.</param>
    /// <returns>The open connection; dispose it.</returns>
    /// <exception cref="InvalidOperationException">No bypass role is configured, or it is a superuser.</exception>
    public async Task<NpgsqlConnection> OpenConnectionAsync(string reason, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(reason);
        var connection = await _dataSource.Value.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var role = connection.UserName ?? "?";
            if (Volatile.Read(ref _verified) == 0)
            {
                role = await CheckRoleAsync(connection, cancellationToken).ConfigureAwait(false);
            }

            RlsLog.BypassOpened(_logger, role, reason, _tenantContext.Tenant?.Value ?? "(none)");
            _metrics.BypassOpened();
            return connection;
        }
        catch
        {
            await connection.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>
    /// The start-up check of the configured bypass role (with <see cref="RlsOptions.VerifyOnStart"/>): what is wrong with it,
    /// or <see langword="null"/> when it is a NOSUPERUSER BYPASSRLS role or none is configured. Logs nothing, counts nothing.
    /// </summary>
    internal async Task<string?> StartupProblemAsync(CancellationToken cancellationToken)
    {
        if (_options.BypassConnectionString is null)
        {
            return null;
        }

        try
        {
            await using var connection = await _dataSource.Value.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
            await CheckRoleAsync(connection, cancellationToken).ConfigureAwait(false);
            return null;
        }
        catch (InvalidOperationException ex)
        {
            return ex.Message;
        }
        catch (NpgsqlException ex)
        {
            return $"ScaleOps:Rls:BypassConnectionString does not connect: {ex.Message}";
        }
    }

    // The role of the bypass connection must be BYPASSRLS and not a superuser; once found so, it is not asked again.
    private async Task<string> CheckRoleAsync(NpgsqlConnection connection, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand(RlsSql.RoleCheck, connection);
        command.Parameters.Add(TenantContextCommand.Text(null)); // the context procedure's schema: not asked here
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        await reader.ReadAsync(cancellationToken).ConfigureAwait(false);
        var role = reader.GetString(0);
        if (reader.GetBoolean(1))
        {
            throw new InvalidOperationException(
                $"ScaleOps:Rls:BypassConnectionString connects as {role}, a superuser; use a NOSUPERUSER BYPASSRLS role for system work.");
        }

        if (!reader.GetBoolean(2))
        {
            throw new InvalidOperationException(
                $"ScaleOps:Rls:BypassConnectionString connects as {role}, which lacks BYPASSRLS: it would see no tenant's rows.");
        }

        Volatile.Write(ref _verified, 1);
        return role;
    }

    /// <inheritdoc />
    public void Dispose()
    {
        if (_dataSource.IsValueCreated)
        {
            _dataSource.Value.Dispose();
        }
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        if (_dataSource.IsValueCreated)
        {
            await _dataSource.Value.DisposeAsync().ConfigureAwait(false);
        }
    }
}
