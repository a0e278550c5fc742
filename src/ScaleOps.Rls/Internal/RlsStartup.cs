using System;
using System.Threading;
using System.Threading.Tasks;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Npgsql;
using ScaleOps.Data;
using ScaleOps.Internal;
using ScaleOps.Rls.Safety;

namespace ScaleOps.Rls.Internal;

/// <summary>
/// Start-up work, after the core's migrations: install the tenant context procedure on each shard, apply the declared
/// policies, then run the safety checks on the shared data source and every shard (refusing to start on an error).
/// </summary>
internal sealed class RlsStartup(
    NpgsqlDataSource dataSource,
    TenantRouter router,
    RlsPolicyManager policies,
    RlsBypass bypass,
    IOptions<RlsOptions> options,
    IOptions<ScaleOpsOptions> coreOptions,
    ILogger<RlsStartup> logger) : IHostedService
{
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        var rls = options.Value;
        if (coreOptions.Value.ApplyMigrationsOnStart)
        {
            foreach (var shard in router.Shards.Values)
            {
                await InstallContextProcedureAsync(shard, coreOptions.Value, cancellationToken).ConfigureAwait(false);
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
            // Every database's problems in one exception; a shard's named, since its tables have the primary's names.
            var errors = await SafetyChecks.VerifyAsync(dataSource, rls, coreOptions.Value.Schema, logger, null, cancellationToken).ConfigureAwait(false);
            foreach (var (name, shard) in router.Shards)
            {
                errors.AddRange(await SafetyChecks.VerifyAsync(shard, rls, coreOptions.Value.Schema, logger, ShardLabel(name, shard), cancellationToken)
                    .ConfigureAwait(false));
            }

            // The bypass role is used by system work (a nightly job): a wrong one should stop the start, not that job.
            if (await bypass.StartupProblemAsync(cancellationToken).ConfigureAwait(false) is { } bypassProblem)
            {
                errors.Add(bypassProblem);
            }

            if (errors.Count > 0)
            {
                throw new RlsSafetyException(errors);
            }
        }
    }

    private static string ShardLabel(string name, NpgsqlDataSource shard)
    {
        var settings = new NpgsqlConnectionStringBuilder(shard.ConnectionString);
        return $"shard {name} (database {settings.Database} at {settings.Host}:{settings.Port}): ";
    }

    // The shard's copy of the context procedure, in one transaction under the lock the core's migrations take for the
    // schema: hosts starting at once queue instead of running CREATE OR REPLACE PROCEDURE and GRANT on the same catalog
    // rows concurrently, which fails all but one with 'tuple concurrently updated'.
    private static async Task InstallContextProcedureAsync(NpgsqlDataSource shard, ScaleOpsOptions core, CancellationToken cancellationToken)
    {
        var script = RlsSql.TenantContextMigrations.Replace("{{schema}}", SqlIdentifier.Quote(core.Schema), StringComparison.Ordinal);
        var timeout = TransactionLocks.Seconds(core.MigrationTimeout);
        await using var connection = await shard.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
        await TransactionLocks.LockAsync(
            connection,
            transaction,
            AdvisoryLock.KeyOf("scaleops:migrations:" + core.Schema),
            timeout,
            ex => new TimeoutException(
                $"The tenant context procedure was not installed on shard database {connection.Database}: the migration lock of schema "
                + $"{core.Schema} was not granted within ScaleOps:MigrationTimeout ({core.MigrationTimeout}), because another host is "
                + "migrating it (or holds the lock in an open transaction).", ex),
            cancellationToken).ConfigureAwait(false);

        await using (var command = new NpgsqlCommand(script, connection, transaction))
        {
            command.CommandTimeout = timeout;
            await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }

        await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
