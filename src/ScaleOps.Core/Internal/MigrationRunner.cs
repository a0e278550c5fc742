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

/// <summary>Applies every registered <see cref="MigrationSet"/> in one transaction under <c>pg_advisory_xact_lock</c>.</summary>
internal sealed class MigrationRunner(
    NpgsqlDataSource dataSource,
    IOptions<ScaleOpsOptions> options,
    IEnumerable<MigrationSet> sets,
    ILogger<MigrationRunner> logger) : IScaleOpsMigrator
{
    public async Task<IReadOnlyList<AppliedMigration>> MigrateAsync(CancellationToken cancellationToken = default)
    {
        using var activity = ScaleOpsDiagnostics.ActivitySource.StartActivity("ScaleOps.Migrations");
        try
        {
            var done = await MigrateCoreAsync(cancellationToken).ConfigureAwait(false);
            activity?.SetTag("scaleops.migrations.applied", done.Count);
            return done;
        }
        catch (Exception ex)
        {
            activity?.SetStatus(ActivityStatusCode.Error, ex.Message);
            throw;
        }
    }

    private async Task<IReadOnlyList<AppliedMigration>> MigrateCoreAsync(CancellationToken cancellationToken)
    {
        var schemaName = options.Value.Schema;
        var schema = SqlIdentifier.Quote(schemaName);
        var table = $"{schema}.\"schema_migrations\"";
        var components = sets.GroupBy(s => s.Component, StringComparer.Ordinal).Select(g => g.First()).ToList();

        var timeout = options.Value.MigrationTimeout;
        // Command timeouts are real time on the server's connection, so the deadline is too (not the injected TimeProvider).
        var deadline = Stopwatch.GetTimestamp() + (long)(timeout.TotalSeconds * Stopwatch.Frequency);
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);

        await using (var lockCommand = new NpgsqlCommand("SELECT pg_advisory_xact_lock($1)", connection, transaction))
        {
            lockCommand.CommandTimeout = SecondsLeft(deadline, timeout);
            lockCommand.Parameters.Add(new NpgsqlParameter<long> { TypedValue = AdvisoryLock.KeyOf("scaleops:migrations:" + schemaName) });
            try
            {
                await lockCommand.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (NpgsqlException ex) when (ex.InnerException is TimeoutException)
            {
                throw new MigrationException(
                    $"The migration lock of schema {schema} was not granted within ScaleOps:MigrationTimeout ({timeout}): another host's "
                    + "migration is still running (or holds the lock in an open transaction). Nothing was applied.", ex);
            }
        }

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

        var applied = await ReadAppliedAsync(connection, transaction, table, cancellationToken).ConfigureAwait(false);
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
}
