using System;
using System.Collections.Generic;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Npgsql;
using ScaleOps.Data;
using ScaleOps.Internal;
using ScaleOps.Rls.Internal;

namespace ScaleOps.Rls;

/// <summary>
/// Applies the row-level security of the declared tables (<see cref="RlsOptions.Tables"/>) with idempotent DDL:
/// <c>ENABLE</c> and <c>FORCE ROW LEVEL SECURITY</c>, and the package's <c>scaleops_*</c> policies, created, replaced
/// when their definition changed, or dropped when no longer declared. Other policies are left alone. Each declared table
/// (with its partitions) is applied in a short transaction of its own under an advisory lock, so concurrent hosts do not
/// fight, and its DDL waits for the table's lock at most <see cref="RlsOptions.LockTimeout"/> (then tried again).
/// </summary>
public sealed class RlsPolicyManager
{
    private static readonly TimeSpan MaxRetryDelay = TimeSpan.FromSeconds(30);

    private readonly NpgsqlDataSource _dataSource;
    private readonly RlsOptions _options;
    private readonly ILogger<RlsPolicyManager> _logger;
    private readonly TimeSpan _lockTimeout;
    private readonly TimeProvider _time;

    // lockTimeout: how long to wait for another host's apply (ScaleOps:MigrationTimeout); 30 minutes when null.
    internal RlsPolicyManager(
        NpgsqlDataSource dataSource, IOptions<RlsOptions> options, ILogger<RlsPolicyManager> logger, TimeSpan? lockTimeout = null, TimeProvider? time = null)
    {
        _dataSource = dataSource;
        _options = options.Value;
        _logger = logger;
        _lockTimeout = lockTimeout ?? TimeSpan.FromMinutes(30);
        _time = time ?? TimeProvider.System;
    }

    /// <summary>Applies the policies through the shared data source (the application role must own the tables).</summary>
    /// <param name="cancellationToken">Cancels the work (the table in progress rolls back; the tables before it stay applied).</param>
    /// <returns>What changed.</returns>
    public Task<RlsPolicyReport> ApplyAsync(CancellationToken cancellationToken = default) => ApplyAsOwnerAsync(_dataSource, cancellationToken);

    /// <summary>Applies the policies through <paramref name="ownerDataSource"/>, a connection as the tables' owner.</summary>
    /// <param name="ownerDataSource">The data source of the owning (migration) role.</param>
    /// <param name="cancellationToken">Cancels the work (the table in progress rolls back; the tables before it stay applied).</param>
    /// <returns>What changed.</returns>
    /// <exception cref="InvalidOperationException">
    /// A declared table or column does not exist, or the role of <paramref name="ownerDataSource"/> does not own a table whose
    /// row security or policies need a change (the message names the table, the role and the owner). The tables declared
    /// before it were applied (and their changes logged).
    /// </exception>
    /// <exception cref="TimeoutException">
    /// Another host applying the policies to this database held their lock longer than <c>ScaleOps:MigrationTimeout</c>
    /// (the wait is bounded by that setting, not by the connection's <c>Command Timeout</c>); or a table stayed locked by
    /// other sessions beyond <see cref="RlsOptions.LockTimeout"/> in every one of <see cref="RlsOptions.DdlAttempts"/>
    /// attempts (the message names it; nothing of that table was changed, the tables declared before it were applied).
    /// </exception>
    public async Task<RlsPolicyReport> ApplyAsOwnerAsync(NpgsqlDataSource ownerDataSource, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(ownerDataSource);
        var changes = new List<string>();
        await using var connection = await ownerDataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);

        // One short transaction per declared table (with its partitions): a table's ACCESS EXCLUSIVE lock is held only while
        // its own DDL runs, not until the last table is done, and a first apply to thousands of relations never needs a
        // lock per relation at once (the server's lock table holds max_locks_per_transaction per connection).
        foreach (var table in _options.Tables)
        {
            var delay = _options.DdlRetryDelay;
            for (var attempt = 1; ; attempt++)
            {
                try
                {
                    var applied = await ApplyTableInTransactionAsync(connection, table, cancellationToken).ConfigureAwait(false);
                    foreach (var change in applied)
                    {
                        RlsLog.PolicyChanged(_logger, change);
                    }

                    changes.AddRange(applied);
                    break;
                }
                catch (RelationLockedException ex) when (attempt < _options.DdlAttempts)
                {
                    RlsLog.PolicyLockTimeout(_logger, ex.Relation, _options.LockTimeout, attempt, _options.DdlAttempts, delay);
                }
                catch (RelationLockedException ex)
                {
                    throw new TimeoutException(
                        $"The row-level security of {ex.Relation} was not applied: it stayed locked by other sessions in all {attempt} attempts "
                        + $"(ScaleOps:Rls:LockTimeout {_options.LockTimeout} each, ScaleOps:Rls:DdlAttempts {_options.DdlAttempts}). A long query or "
                        + "transaction on it holds a lock that the policy DDL (ACCESS EXCLUSIVE) waits for; the DDL gives up after the lock timeout "
                        + $"so the table's readers and writers never queue behind it. Nothing of {table.Schema}.{table.Name} was changed"
                        + (changes.Count == 0 ? "" : $" (the {changes.Count} changes to the tables declared before it were applied and logged)")
                        + ": apply again once that transaction ended, or raise ScaleOps:Rls:LockTimeout or ScaleOps:Rls:DdlAttempts.",
                        ex.InnerException);
                }

                await Task.Delay(delay, _time, cancellationToken).ConfigureAwait(false);
                delay = TimeSpan.FromTicks(Math.Min(MaxRetryDelay.Ticks, Math.Max(delay.Ticks * 2, 1)));
            }
        }

        if (changes.Count == 0)
        {
            RlsLog.PoliciesUpToDate(_logger, _options.Tables.Count);
        }

        return new RlsPolicyReport(changes);
    }

    private async Task<List<string>> ApplyTableInTransactionAsync(NpgsqlConnection connection, RlsTable table, CancellationToken cancellationToken)
    {
        var changes = new List<string>();
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);

        // Hosts starting together take turns per table: the wait is bounded like the migrations' lock, not by the
        // connection's Command Timeout (30 s by default).
        await TransactionLocks.LockAsync(
            connection,
            transaction,
            AdvisoryLock.KeyOf("scaleops:rls:policies"),
            TransactionLocks.Seconds(_lockTimeout),
            ex => new TimeoutException(
                $"The row-level security policies were not applied: their lock was not granted within ScaleOps:MigrationTimeout ({_lockTimeout}), "
                + "because another host is applying them (or holds the lock in an open transaction). Nothing was changed.", ex),
            cancellationToken).ConfigureAwait(false);

        // Granted the apply's own lock, every later lock wait is bounded: DDL that cannot lock a busy table gives up
        // instead of queueing that table's readers and writers behind its ACCESS EXCLUSIVE request.
        await TransactionLocks.BoundLockWaitsAsync(connection, transaction, _options.LockTimeout, cancellationToken).ConfigureAwait(false);
        try
        {
            await ApplyTableAsync(connection, transaction, table, changes, cancellationToken).ConfigureAwait(false);
        }
        catch (PostgresException ex) when (ex.SqlState == PostgresErrorCodes.InsufficientPrivilege)
        {
            await transaction.RollbackAsync(cancellationToken).ConfigureAwait(false);
            throw await NotOwnerAsync(connection, table, ex, cancellationToken).ConfigureAwait(false);
        }

        await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
        return changes;
    }

    // Only the owner of a table may change its row security and policies. PostgreSQL's "must be owner of table x" names
    // neither the role that tried nor the one that could: say both, and what to change.
    private static async Task<InvalidOperationException> NotOwnerAsync(
        NpgsqlConnection connection, RlsTable table, PostgresException exception, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand(
            "SELECT current_user, (SELECT pg_catalog.pg_get_userbyid(c.relowner) FROM pg_catalog.pg_class c WHERE c.oid = pg_catalog.to_regclass($1))",
            connection);
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = SqlIdentifier.Qualify(table.Schema, table.Name) });
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        await reader.ReadAsync(cancellationToken).ConfigureAwait(false);
        var owner = reader.IsDBNull(1) ? "another role" : reader.GetString(1);
        return new InvalidOperationException(
            $"Cannot apply the row-level security of table {table.Schema}.{table.Name} as role {reader.GetString(0)}: {exception.MessageText} "
            + $"(its owner is {owner}). Apply the policies as the owner: RlsPolicyManager.ApplyAsOwnerAsync with a data source of the owner "
            + "role in the migration step, or a host whose connection string is the owner's; an application role that does not own the "
            + "tables starts with ScaleOps:Rls:ApplyPoliciesOnStart = false.",
            exception);
    }

    private static async Task ApplyTableAsync(
        NpgsqlConnection connection, NpgsqlTransaction transaction, RlsTable table, List<string> changes, CancellationToken cancellationToken)
    {
        var state = await TableStateReader.ReadAsync(connection, transaction, table, cancellationToken).ConfigureAwait(false)
            ?? throw new InvalidOperationException($"RLS table {table.Schema}.{table.Name} does not exist (declared in ScaleOps:Rls:Tables).");
        state.ThrowIfColumnsMissing(table);
        await ApplyToRelationAsync(
            connection, transaction, table, SqlIdentifier.Qualify(table.Schema, table.Name), state.Name, state.RowSecurity, state.ForceRowSecurity,
            state, changes, cancellationToken).ConfigureAwait(false);

        // A partition queried by its own name is checked against its own policies, not the parent's: every partition
        // below a declared table gets the same security (ScaleOps.Partitioning copies it onto partitions it creates).
        foreach (var partition in await TableStateReader.PartitionsAsync(connection, transaction, state.Name, cancellationToken).ConfigureAwait(false))
        {
            await ApplyToRelationAsync(
                connection, transaction, table, partition.Qualified, partition.Name, partition.RowSecurity, partition.ForceRowSecurity,
                state, changes, cancellationToken).ConfigureAwait(false);
        }
    }

    private static async Task ApplyToRelationAsync(
        NpgsqlConnection connection, NpgsqlTransaction transaction, RlsTable table, string qualified, string name, bool rowSecurity,
        bool forceRowSecurity, TableState state, List<string> changes, CancellationToken cancellationToken)
    {
        if (!rowSecurity)
        {
            await ExecuteDdlAsync(connection, transaction, name, $"ALTER TABLE {qualified} ENABLE ROW LEVEL SECURITY", cancellationToken).ConfigureAwait(false);
            changes.Add($"{name}: enabled row level security");
        }

        if (!forceRowSecurity)
        {
            await ExecuteDdlAsync(connection, transaction, name, $"ALTER TABLE {qualified} FORCE ROW LEVEL SECURITY", cancellationToken).ConfigureAwait(false);
            changes.Add($"{name}: forced row level security (applies to the owner too)");
        }

        // Up to date means: created by ScaleOps from this very statement, and not altered since (the fingerprint of its
        // actual definition still equals the one recorded in its comment at creation). ALTER POLICY keeps the comment.
        var existing = await TableStateReader.ScaleOpsPoliciesAsync(connection, transaction, qualified, cancellationToken).ConfigureAwait(false);
        var desired = PolicyDdl.For(table, qualified, state.TenantType, state.UserType);
        var created = new List<(DesiredPolicy Policy, string Change)>();
        foreach (var policy in desired)
        {
            var change = $"{name}: created policy {policy.Name}";
            if (existing.TryGetValue(policy.Name, out var current))
            {
                if (current.IsUpToDate(policy))
                {
                    continue;
                }

                await ExecuteDdlAsync(connection, transaction, name, $"DROP POLICY {SqlIdentifier.Quote(policy.Name)} ON {qualified}", cancellationToken)
                    .ConfigureAwait(false);
                change = current.Comment.StartsWith(policy.Hash + ":", StringComparison.Ordinal)
                    ? $"{name}: recreated policy {policy.Name} (altered since ScaleOps created it)"
                    : $"{name}: replaced policy {policy.Name}";
            }

            await ExecuteDdlAsync(connection, transaction, name, policy.CreateSql, cancellationToken).ConfigureAwait(false);
            created.Add((policy, change));
        }

        if (created.Count > 0)
        {
            var fingerprints = await TableStateReader.ScaleOpsPoliciesAsync(connection, transaction, qualified, cancellationToken).ConfigureAwait(false);
            foreach (var (policy, change) in created)
            {
                // The comment holds 'scaleops', hex digits and ':' only, so it is safe as a literal.
                var comment = ExistingPolicy.CommentFor(policy, fingerprints[policy.Name].Fingerprint);
                await ExecuteDdlAsync(connection, transaction, name,
                    $"COMMENT ON POLICY {SqlIdentifier.Quote(policy.Name)} ON {qualified} IS '{comment}'", cancellationToken).ConfigureAwait(false);
                changes.Add(change);
            }
        }

        foreach (var stale in existing.Keys.Where(name => desired.All(p => !string.Equals(p.Name, name, StringComparison.Ordinal))).Order(StringComparer.Ordinal))
        {
            await ExecuteDdlAsync(connection, transaction, name, $"DROP POLICY {SqlIdentifier.Quote(stale)} ON {qualified}", cancellationToken).ConfigureAwait(false);
            changes.Add($"{name}: dropped policy {stale} (no longer declared)");
        }
    }

    private static async Task ExecuteAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, string sql, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand(sql, connection, transaction);
        await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    // DDL on relation gave up waiting for its lock (lock_timeout): the whole apply rolls back and may be tried again.
    private static async Task ExecuteDdlAsync(
        NpgsqlConnection connection, NpgsqlTransaction transaction, string relation, string sql, CancellationToken cancellationToken)
    {
        try
        {
            await ExecuteAsync(connection, transaction, sql, cancellationToken).ConfigureAwait(false);
        }
        catch (PostgresException ex) when (ex.SqlState == PostgresErrorCodes.LockNotAvailable)
        {
            throw new RelationLockedException(relation, ex);
        }
    }

    private sealed class RelationLockedException(string relation, PostgresException inner) : Exception(inner.Message, inner)
    {
        public string Relation { get; } = relation;
    }
}
