using System.Threading;
using System.Threading.Tasks;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Npgsql;
using ScaleOps.Data;

namespace ScaleOps.Rls.Internal;

/// <summary>
/// Start-up work, after the core's migrations: install the tenant context procedure on each shard, apply the declared
/// policies, then run the safety checks on the shared data source and every shard (refusing to start on an error).
/// </summary>
internal sealed class RlsStartup(
    NpgsqlDataSource dataSource,
    TenantRouter router,
    RlsPolicyManager policies,
    IOptions<RlsOptions> options,
    IOptions<ScaleOpsOptions> coreOptions,
    ILogger<RlsStartup> logger) : IHostedService
{
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        var rls = options.Value;
        if (coreOptions.Value.ApplyMigrationsOnStart)
        {
            var script = RlsSql.TenantContextMigrations.Replace("{{schema}}", SqlIdentifier.Quote(coreOptions.Value.Schema), System.StringComparison.Ordinal);
            foreach (var shard in router.Shards.Values)
            {
                await using var command = shard.CreateCommand(script);
                await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
            }
        }

        if (rls.ApplyPoliciesOnStart && rls.Tables.Count > 0)
        {
            await policies.ApplyAsync(cancellationToken).ConfigureAwait(false);
            foreach (var shard in router.Shards.Values)
            {
                await policies.ApplyAsOwnerAsync(shard, cancellationToken).ConfigureAwait(false);
            }
        }

        if (rls.VerifyOnStart)
        {
            await SafetyChecks.VerifyAsync(dataSource, rls, logger, cancellationToken).ConfigureAwait(false);
            foreach (var shard in router.Shards.Values)
            {
                await SafetyChecks.VerifyAsync(shard, rls, logger, cancellationToken).ConfigureAwait(false);
            }
        }
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
