using System;
using System.Collections.Generic;
using System.Net;
using System.Text.Json;
using System.Threading;
using System.Threading.Tasks;
using Microsoft.Extensions.Options;
using Npgsql;
using NpgsqlTypes;
using ScaleOps.Data;
using ScaleOps.Partitioning.Audit;

namespace ScaleOps.Partitioning.Internal;

/// <summary>The one class that talks SQL for the audit trail.</summary>
internal sealed class AuditStore(NpgsqlDataSource dataSource, IOptions<ScaleOpsOptions> scaleOps)
{
    private readonly string _copy = Sql.WithSchema(Sql.AuditCopy, SqlIdentifier.Quote(scaleOps.Value.Schema));
    private readonly string _insertIdempotent = Sql.WithSchema(Sql.AuditInsertIdempotent, SqlIdentifier.Quote(scaleOps.Value.Schema));
    private readonly string _query = Sql.WithSchema(Sql.AuditQuery, SqlIdentifier.Quote(scaleOps.Value.Schema));
    private readonly string _find = Sql.WithSchema(Sql.AuditFind, SqlIdentifier.Quote(scaleOps.Value.Schema));

    public async Task CopyAsync(IReadOnlyList<AuditWriter.Pending> batch, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using var importer = await connection.BeginBinaryImportAsync(_copy, cancellationToken).ConfigureAwait(false);
        foreach (var p in batch)
        {
            var e = p.Entry!;
            await importer.StartRowAsync(cancellationToken).ConfigureAwait(false);
            await importer.WriteAsync(p.Id, NpgsqlDbType.Uuid, cancellationToken).ConfigureAwait(false);
            await importer.WriteAsync(p.OccurredAt, NpgsqlDbType.TimestampTz, cancellationToken).ConfigureAwait(false);
            await importer.WriteAsync(p.Tenant, NpgsqlDbType.Text, cancellationToken).ConfigureAwait(false);
            await importer.WriteAsync(e.Action, NpgsqlDbType.Text, cancellationToken).ConfigureAwait(false);
            await importer.WriteAsync(e.EntityType, NpgsqlDbType.Text, cancellationToken).ConfigureAwait(false);
            await WriteNullableAsync(importer, e.EntityId, NpgsqlDbType.Text, cancellationToken).ConfigureAwait(false);
            await WriteNullableAsync(importer, p.Actor, NpgsqlDbType.Text, cancellationToken).ConfigureAwait(false);
            await WriteNullableAsync(importer, e.IpAddress, NpgsqlDbType.Inet, cancellationToken).ConfigureAwait(false);
            await WriteNullableAsync(importer, e.UserAgent, NpgsqlDbType.Text, cancellationToken).ConfigureAwait(false);
            await WriteNullableAsync(importer, p.Changes, NpgsqlDbType.Jsonb, cancellationToken).ConfigureAwait(false);
            await WriteNullableAsync(importer, p.Metadata, NpgsqlDbType.Jsonb, cancellationToken).ConfigureAwait(false);
        }

        await importer.CompleteAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Writes a batch that may already be (partly) in the table: one INSERT of the rows as array parameters, ON CONFLICT
    /// (id, occurred_at) DO NOTHING. For retries only, when an earlier attempt's outcome is unknown (the COPY may have
    /// committed before the connection dropped) or the batch is being split; the normal path is the binary COPY.
    /// </summary>
    public async Task InsertIdempotentAsync(IReadOnlyList<AuditWriter.Pending> batch, CancellationToken cancellationToken)
    {
        var n = batch.Count;
        var ids = new Guid[n];
        var occurred = new DateTime[n];
        var tenants = new string[n];
        var actions = new string[n];
        var entityTypes = new string[n];
        var entityIds = new string?[n];
        var actors = new string?[n];
        var ips = new IPAddress?[n];
        var userAgents = new string?[n];
        var changes = new string?[n];
        var metadata = new string?[n];
        for (var i = 0; i < n; i++)
        {
            var p = batch[i];
            var e = p.Entry!;
            ids[i] = p.Id;
            occurred[i] = p.OccurredAt;
            tenants[i] = p.Tenant;
            actions[i] = e.Action;
            entityTypes[i] = e.EntityType;
            entityIds[i] = e.EntityId;
            actors[i] = p.Actor;
            ips[i] = e.IpAddress;
            userAgents[i] = e.UserAgent;
            changes[i] = p.Changes;
            metadata[i] = p.Metadata;
        }

        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using var command = new NpgsqlCommand(_insertIdempotent, connection);
        command.Parameters.Add(new NpgsqlParameter<Guid[]> { TypedValue = ids, NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Uuid });
        command.Parameters.Add(new NpgsqlParameter<DateTime[]> { TypedValue = occurred, NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.TimestampTz });
        command.Parameters.Add(new NpgsqlParameter<string[]> { TypedValue = tenants, NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Text });
        command.Parameters.Add(new NpgsqlParameter<string[]> { TypedValue = actions, NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Text });
        command.Parameters.Add(new NpgsqlParameter<string[]> { TypedValue = entityTypes, NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Text });
        command.Parameters.Add(new NpgsqlParameter<string?[]> { TypedValue = entityIds, NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Text });
        command.Parameters.Add(new NpgsqlParameter<string?[]> { TypedValue = actors, NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Text });
        command.Parameters.Add(new NpgsqlParameter<IPAddress?[]> { TypedValue = ips, NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Inet });
        command.Parameters.Add(new NpgsqlParameter<string?[]> { TypedValue = userAgents, NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Text });
        command.Parameters.Add(new NpgsqlParameter<string?[]> { TypedValue = changes, NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Jsonb });
        command.Parameters.Add(new NpgsqlParameter<string?[]> { TypedValue = metadata, NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Jsonb });
        await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    public async Task<List<AuditRecord>> QueryAsync(
        string tenant, DateTime from, DateTime to, AuditPosition? after, int limit, CancellationToken cancellationToken)
    {
        await using var batch = GenericPlanBatch(_query);
        AddQueryParameters(batch.BatchCommands[1].Parameters, tenant, from, to, after, limit);
        return await ReadAsync(batch, cancellationToken).ConfigureAwait(false);
    }

    private static void AddQueryParameters(NpgsqlParameterCollection parameters, string tenant, DateTime from, DateTime to, AuditPosition? after, int limit)
    {
        parameters.Add(new NpgsqlParameter<string> { TypedValue = tenant });
        parameters.Add(new NpgsqlParameter<DateTime> { TypedValue = from, NpgsqlDbType = NpgsqlDbType.TimestampTz });
        parameters.Add(new NpgsqlParameter<DateTime> { TypedValue = to, NpgsqlDbType = NpgsqlDbType.TimestampTz });
        parameters.Add(new NpgsqlParameter<int> { TypedValue = limit });
        parameters.Add(new NpgsqlParameter { Value = after is { } a ? a.Id : DBNull.Value, NpgsqlDbType = NpgsqlDbType.Uuid });
        parameters.Add(new NpgsqlParameter
        {
            Value = after is { } b ? b.OccurredAt.UtcDateTime : DBNull.Value, NpgsqlDbType = NpgsqlDbType.TimestampTz,
        });
    }

    public async Task<List<string>> PartitionsReadAsync(string tenant, DateTime from, DateTime to, CancellationToken cancellationToken)
    {
        await using var batch = GenericPlanBatch("EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF, FORMAT JSON) " + _query);
        AddQueryParameters(batch.BatchCommands[1].Parameters, tenant, from, to, null, 10_000);
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        batch.Connection = connection;
        await using var reader = await batch.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        await reader.NextResultAsync(cancellationToken).ConfigureAwait(false);
        var relations = new SortedSet<string>(StringComparer.Ordinal);
        if (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            using var plan = JsonDocument.Parse(reader.GetString(0));
            foreach (var root in plan.RootElement.EnumerateArray())
            {
                CollectRelations(root.GetProperty("Plan"), relations);
            }
        }

        return [.. relations];
    }

    // Partitions pruned when the generic plan starts (the bounds are parameters) do not appear in the plan at all, and a
    // partition the executor never reached (the LIMIT was met first) shows zero loops: neither was read.
    private static void CollectRelations(JsonElement node, SortedSet<string> relations)
    {
        var ran = !node.TryGetProperty("Actual Loops", out var loops) || loops.GetDouble() > 0;
        if (ran && node.TryGetProperty("Relation Name", out var name) && name.GetString() is { } relation)
        {
            relations.Add(relation);
        }

        if (node.TryGetProperty("Plans", out var children))
        {
            foreach (var child in children.EnumerateArray())
            {
                CollectRelations(child, relations);
            }
        }
    }

    public async Task<AuditRecord?> FindAsync(string tenant, Guid id, DateTime from, DateTime to, CancellationToken cancellationToken)
    {
        await using var batch = GenericPlanBatch(_find);
        var query = batch.BatchCommands[1];
        query.Parameters.Add(new NpgsqlParameter<string> { TypedValue = tenant });
        query.Parameters.Add(new NpgsqlParameter<DateTime> { TypedValue = from, NpgsqlDbType = NpgsqlDbType.TimestampTz });
        query.Parameters.Add(new NpgsqlParameter<DateTime> { TypedValue = to, NpgsqlDbType = NpgsqlDbType.TimestampTz });
        query.Parameters.Add(new NpgsqlParameter<Guid> { TypedValue = id });
        var rows = await ReadAsync(batch, cancellationToken).ConfigureAwait(false);
        return rows.Count > 0 ? rows[0] : null;
    }

    /// <summary>
    /// One round trip: <c>set_config('plan_cache_mode', 'force_generic_plan', true)</c> then the query, in an implicit
    /// transaction (a batch), so the setting holds only for this query. The batch is prepared (see ReadAsync): a generic
    /// plan of an unprepared statement is built on every call and plans every partition, measured 6-20x slower.
    /// </summary>
    private static NpgsqlBatch GenericPlanBatch(string sql)
    {
        var batch = new NpgsqlBatch();
        batch.BatchCommands.Add(new NpgsqlBatchCommand("SELECT set_config('plan_cache_mode', 'force_generic_plan', true)"));
        batch.BatchCommands.Add(new NpgsqlBatchCommand(sql));
        return batch;
    }

    private async Task<List<AuditRecord>> ReadAsync(NpgsqlBatch batch, CancellationToken cancellationToken)
    {
        var list = new List<AuditRecord>();
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        batch.Connection = connection;
        // Prepared statements persist on the physical connection: after the first call on a connection this is a lookup,
        // and the generic plan built once is reused, pruned at run time from the bounds.
        await batch.PrepareAsync(cancellationToken).ConfigureAwait(false);
        await using var reader = await batch.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        await reader.NextResultAsync(cancellationToken).ConfigureAwait(false);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            list.Add(new AuditRecord(
                reader.GetGuid(0),
                new DateTimeOffset(reader.GetFieldValue<DateTime>(1), TimeSpan.Zero),
                reader.GetString(2), reader.GetString(3), reader.GetString(4),
                reader.IsDBNull(5) ? null : reader.GetString(5),
                reader.IsDBNull(6) ? null : reader.GetString(6),
                reader.IsDBNull(7) ? null : reader.GetFieldValue<IPAddress>(7),
                reader.IsDBNull(8) ? null : reader.GetString(8),
                reader.IsDBNull(9) ? null : Json(reader.GetString(9)),
                reader.IsDBNull(10) ? null : Json(reader.GetString(10))));
        }

        return list;
    }

    private static JsonElement Json(string text)
    {
        using var document = JsonDocument.Parse(text);
        return document.RootElement.Clone();
    }

    private static Task WriteNullableAsync<T>(NpgsqlBinaryImporter importer, T? value, NpgsqlDbType type, CancellationToken cancellationToken) =>
        value is null ? importer.WriteNullAsync(cancellationToken) : importer.WriteAsync(value, type, cancellationToken);
}
