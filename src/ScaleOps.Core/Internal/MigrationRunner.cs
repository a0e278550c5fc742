using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Npgsql;
using ScaleOps.Data;
using ScaleOps.Diagnostics;
using ScaleOps.Migrations;

namespace ScaleOps.Internal;

/// <summary>
/// Applies every registered <see cref="MigrationSet"/> in one transaction under <c>pg_advisory_xact_lock</c>, its scripts'
/// lock waits bounded by <c>lock_timeout</c> (the transaction is tried again after a pause while the deadline allows).
/// </summary>
internal sealed class MigrationRunner(
    NpgsqlDataSource dataSource,
    IOptions<ScaleOpsOptions> options,
    IEnumerable<MigrationSet> sets,
    ILogger<MigrationRunner> logger) : IScaleOpsMigrator
{
    private static readonly TimeSpan FirstRetryDelay = TimeSpan.FromMilliseconds(200);
    private static readonly TimeSpan MaxRetryDelay = TimeSpan.FromSeconds(30);

    public async Task<IReadOnlyList<AppliedMigration>> MigrateAsync(CancellationToken cancellationToken = default)
    {
        using var activity = ScaleOpsDiagnostics.ActivitySource.StartActivity("ScaleOps.Migrations");
        try
        {
            var done = await MigrateWithLockRetriesAsync(cancellationToken).ConfigureAwait(false);
            activity?.SetTag("scaleops.migrations.applied", done.Count);
            return done;
        }
        catch (Exception ex)
        {
            activity?.SetStatus(ActivityStatusCode.Error, ex.Message);
            throw;
        }
    }

    // A script that timed out on a table's lock rolls the whole migration back; it is tried again while the deadline allows.
    private async Task<IReadOnlyList<AppliedMigration>> MigrateWithLockRetriesAsync(CancellationToken cancellationToken)
    {
        var timeout = options.Value.MigrationTimeout;
        // Command timeouts are real time on the server's connection, so the deadline and the pauses are too (not the
        // injected TimeProvider).
        var deadline = Stopwatch.GetTimestamp() + (long)(timeout.TotalSeconds * Stopwatch.Frequency);
        var delay = FirstRetryDelay;
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                return await MigrateCoreAsync(deadline, cancellationToken).ConfigureAwait(false);
            }
            catch (ScriptLockTimeoutException ex)
            {
                var left = TimeSpan.FromSeconds((double)(deadline - Stopwatch.GetTimestamp()) / Stopwatch.Frequency);
                if (left <= delay + options.Value.MigrationLockTimeout)
                {
                    throw new MigrationException(
                        $"Migration {ex.Migration} could not lock a table it changes within ScaleOps:MigrationTimeout ({timeout}): in each of "
                        + $"{attempt} attempts a long query or transaction held the lock beyond ScaleOps:MigrationLockTimeout "
                        + $"({options.Value.MigrationLockTimeout}). The script gives up instead of queueing the table's readers and writers "
                        + "behind it. Nothing was applied: migrate again once that transaction ended, or raise the settings.", ex.Postgres);
                }

                Log.MigrationLockTimeout(logger, ex.Migration, options.Value.MigrationLockTimeout, delay, attempt);
            }

            await Task.Delay(delay, TimeProvider.System, cancellationToken).ConfigureAwait(false);
            delay = TimeSpan.FromTicks(Math.Min(MaxRetryDelay.Ticks, delay.Ticks * 2));
        }
    }

    private async Task<IReadOnlyList<AppliedMigration>> MigrateCoreAsync(long deadline, CancellationToken cancellationToken)
    {
        var schemaName = options.Value.Schema;
        var schema = SqlIdentifier.Quote(schemaName);
        var table = $"{schema}.\"schema_migrations\"";
        var components = sets.GroupBy(s => s.Component, StringComparer.Ordinal).Select(g => g.First()).ToList();

        var timeout = options.Value.MigrationTimeout;
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);

        await TransactionLocks.LockAsync(
            connection,
            transaction,
            AdvisoryLock.KeyOf("scaleops:migrations:" + schemaName),
            SecondsLeft(deadline, timeout),
            ex => new MigrationException(
                $"The migration lock of schema {schema} was not granted within ScaleOps:MigrationTimeout ({timeout}): another host's "
                + "migration is still running (or holds the lock in an open transaction). Nothing was applied.", ex),
            cancellationToken).ConfigureAwait(false);

        // Granted the migration lock, every later lock wait is bounded: a script that cannot lock a busy table gives up
        // instead of queueing that table's readers and writers behind its request.
        await TransactionLocks.BoundLockWaitsAsync(connection, transaction, options.Value.MigrationLockTimeout, cancellationToken).ConfigureAwait(false);
        Dictionary<(string Component, int Version), string> applied;
        try
        {
            await ExecuteAsync(connection, transaction,
                $"""
                CREATE SCHEMA IF NOT EXISTS {schema};
                CREATE TABLE IF NOT EXISTS {table} (
                    component  text        NOT NULL,
                    version    integer     NOT NULL,
                    name       text        NOT NULL,
                    checksum   text        NOT NULL,
                    applied_at timestamptz NOT NULL DEFAULT now(),
                    PRIMARY KEY (component, version)
                );
                """,
                cancellationToken).ConfigureAwait(false);
            applied = await ReadAppliedAsync(connection, transaction, table, cancellationToken).ConfigureAwait(false);
        }
        catch (PostgresException ex) when (ex.SqlState == PostgresErrorCodes.InsufficientPrivilege)
        {
            throw NotPermitted(connection, table, ex);
        }
        var done = new List<AppliedMigration>();
        foreach (var set in components)
        {
            foreach (var script in set.Scripts)
            {
                if (applied.TryGetValue((set.Component, script.Version), out var checksum))
                {
                    if (!string.Equals(checksum, script.Checksum, StringComparison.Ordinal))
                    {
                        throw new MigrationException(
                            $"Migration {set.Component}/{script.Version:D4}_{script.Name} was changed after it was applied "
                            + $"(checksum {checksum} in {table}, {script.Checksum} now). Add a new migration instead of editing an applied one.");
                    }

                    continue;
                }

                await ApplyAsync(connection, transaction, table, schema, set.Component, script, deadline, timeout, cancellationToken).ConfigureAwait(false);
                done.Add(new AppliedMigration(set.Component, script.Version, script.Name));
            }

            var newest = applied.Keys.Where(k => k.Component == set.Component).Select(k => k.Version).DefaultIfEmpty(0).Max();
            if (newest > set.Scripts[^1].Version)
            {
                Log.SchemaNewerThanCode(logger, set.Component, newest, set.Scripts[^1].Version);
            }
        }

        await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
        foreach (var migration in done)
        {
            Log.MigrationApplied(logger, migration.Component, migration.Version, migration.Name, schemaName);
        }

        return done;
    }

    private static async Task ApplyAsync(
        NpgsqlConnection connection, NpgsqlTransaction transaction, string table, string schema, string component,
        MigrationScript script, long deadline, TimeSpan timeout, CancellationToken cancellationToken)
    {
        try
        {
            await using var command = new NpgsqlCommand(
                script.Sql.Replace(MigrationSet.SchemaPlaceholder, schema, StringComparison.Ordinal), connection, transaction);
            command.CommandTimeout = SecondsLeft(deadline, timeout);
            await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (PostgresException ex) when (ex.SqlState == PostgresErrorCodes.LockNotAvailable)
        {
            throw new ScriptLockTimeoutException($"{component}/{script.Version:D4}_{script.Name}", ex);
        }
        catch (PostgresException ex)
        {
            throw new MigrationException(
                $"Migration {component}/{script.Version:D4}_{script.Name} failed: {ex.SqlState} {ex.MessageText}. Nothing was applied.", ex);
        }
        catch (NpgsqlException ex) when (ex.InnerException is TimeoutException)
        {
            throw new MigrationException(
                $"Migration {component}/{script.Version:D4}_{script.Name} did not finish within ScaleOps:MigrationTimeout ({timeout}). "
                + "Nothing was applied: raise the setting, or run the migrations with IScaleOpsMigrator outside the start.", ex);
        }

        await using var record = new NpgsqlCommand(
            $"INSERT INTO {table} (component, version, name, checksum) VALUES ($1, $2, $3, $4)", connection, transaction);
        record.Parameters.Add(new NpgsqlParameter<string> { TypedValue = component });
        record.Parameters.Add(new NpgsqlParameter<int> { TypedValue = script.Version });
        record.Parameters.Add(new NpgsqlParameter<string> { TypedValue = script.Name });
        record.Parameters.Add(new NpgsqlParameter<string> { TypedValue = script.Checksum });
        await record.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    private static async Task<Dictionary<(string Component, int Version), string>> ReadAppliedAsync(
        NpgsqlConnection connection, NpgsqlTransaction transaction, string table, CancellationToken cancellationToken)
    {
        var applied = new Dictionary<(string, int), string>();
        await using var command = new NpgsqlCommand($"SELECT component, version, checksum FROM {table}", connection, transaction);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            applied[(reader.GetString(0), reader.GetInt32(1))] = reader.GetString(2);
        }

        return applied;
    }

    // CREATE SCHEMA IF NOT EXISTS checks the database's CREATE privilege even when the schema exists, so an application
    // role that is not the owner fails here on every start, also after the owner migrated: say why and what to do.
    private static MigrationException NotPermitted(NpgsqlConnection connection, string table, PostgresException ex)
    {
        var role = connection.UserName ?? "?";
        var database = connection.Database;
        return new MigrationException(
            $"The migrations cannot run as role {role} in database {database}: it may not create or read ScaleOps' migration table "
            + $"{table} ({ex.SqlState} {ex.MessageText}). Nothing was applied. ScaleOps:ApplyMigrationsOnStart (true by default) runs "
            + "them as the application's connection: run them as the role that owns your tables instead (IScaleOpsMigrator.MigrateAsync "
            + "from your migration step, on a connection as that role) and set ScaleOps:ApplyMigrationsOnStart = false in the "
            + $"application; or let this role create them: GRANT CREATE ON DATABASE {SqlIdentifier.Quote(database)} TO "
            + $"{SqlIdentifier.Quote(role)}.", ex);
    }

    /// <summary>The command timeout (whole seconds, at least 1) that ends at the migration's deadline.</summary>
    private static int SecondsLeft(long deadline, TimeSpan timeout)
    {
        var left = (double)(deadline - Stopwatch.GetTimestamp()) / Stopwatch.Frequency;
        return (int)Math.Clamp(Math.Ceiling(left), 1, Math.Ceiling(timeout.TotalSeconds));
    }

    private static async Task ExecuteAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, string sql, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand(sql, connection, transaction);
        await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    private sealed class ScriptLockTimeoutException(string migration, PostgresException postgres) : Exception(postgres.Message, postgres)
    {
        public string Migration { get; } = migration;

        public PostgresException Postgres { get; } = postgres;
    }
}
