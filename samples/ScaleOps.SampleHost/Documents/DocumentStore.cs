using System;
using System.Collections.Generic;
using System.Threading;
using System.Threading.Tasks;
using Npgsql;
using ScaleOps.Tenancy;

namespace ScaleOps.SampleHost.Documents;

/// <summary>The one class of the sample that talks SQL about documents. Every statement is scoped to the ambient tenant.</summary>
public sealed class DocumentStore(NpgsqlDataSource dataSource, ITenantContext tenants, TimeProvider time)
{
    private const string Columns = "id, title, body, created_at, updated_at, indexed_at";

    public async Task<Document> CreateAsync(DocumentInput input, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand(
            $"INSERT INTO app.documents (tenant_id, id, title, body, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $5) RETURNING {Columns}");
        command.Parameters.Add(Tenant());
        command.Parameters.Add(new NpgsqlParameter<Guid> { TypedValue = Guid.CreateVersion7(time.GetUtcNow()) });
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = input.Title! });
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = input.Body! });
        command.Parameters.Add(new NpgsqlParameter<DateTimeOffset> { TypedValue = time.GetUtcNow() });
        return (await ReadAsync(command, cancellationToken))[0];
    }

    public async Task<Document?> GetAsync(Guid id, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand($"SELECT {Columns} FROM app.documents WHERE tenant_id = $1 AND id = $2");
        command.Parameters.Add(Tenant());
        command.Parameters.Add(new NpgsqlParameter<Guid> { TypedValue = id });
        var found = await ReadAsync(command, cancellationToken);
        return found.Count == 0 ? null : found[0];
    }

    public async Task<DocumentPage> ListAsync(int limit, DateTimeOffset? afterCreatedAt, Guid? afterId, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand(afterCreatedAt is null
            ? $"SELECT {Columns} FROM app.documents WHERE tenant_id = $1 ORDER BY created_at DESC, id DESC LIMIT $2"
            : $"SELECT {Columns} FROM app.documents WHERE tenant_id = $1 AND (created_at, id) < ($3, $4) ORDER BY created_at DESC, id DESC LIMIT $2");
        command.Parameters.Add(Tenant());
        command.Parameters.Add(new NpgsqlParameter<int> { TypedValue = limit + 1 });
        if (afterCreatedAt is not null)
        {
            command.Parameters.Add(new NpgsqlParameter<DateTimeOffset> { TypedValue = afterCreatedAt.Value });
            command.Parameters.Add(new NpgsqlParameter<Guid> { TypedValue = afterId!.Value });
        }

        var rows = await ReadAsync(command, cancellationToken);
        if (rows.Count <= limit)
        {
            return new DocumentPage([.. rows], null);
        }

        var page = rows.GetRange(0, limit);
        return new DocumentPage([.. page], Cursor.Encode(page[^1].CreatedAt, page[^1].Id));
    }

    public async Task<Document?> UpdateAsync(Guid id, DocumentInput input, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand(
            $"UPDATE app.documents SET title = $3, body = $4, updated_at = $5, indexed_at = NULL WHERE tenant_id = $1 AND id = $2 RETURNING {Columns}");
        command.Parameters.Add(Tenant());
        command.Parameters.Add(new NpgsqlParameter<Guid> { TypedValue = id });
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = input.Title! });
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = input.Body! });
        command.Parameters.Add(new NpgsqlParameter<DateTimeOffset> { TypedValue = time.GetUtcNow() });
        var found = await ReadAsync(command, cancellationToken);
        return found.Count == 0 ? null : found[0];
    }

    public async Task<bool> DeleteAsync(Guid id, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand("DELETE FROM app.documents WHERE tenant_id = $1 AND id = $2");
        command.Parameters.Add(Tenant());
        command.Parameters.Add(new NpgsqlParameter<Guid> { TypedValue = id });
        return await command.ExecuteNonQueryAsync(cancellationToken) == 1;
    }

    private NpgsqlParameter<string> Tenant() => new() { TypedValue = tenants.RequireTenant().Value };

    private static async Task<List<Document>> ReadAsync(NpgsqlCommand command, CancellationToken cancellationToken)
    {
        var list = new List<Document>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            list.Add(new Document(
                reader.GetGuid(0), reader.GetString(1), reader.GetString(2),
                reader.GetFieldValue<DateTimeOffset>(3), reader.GetFieldValue<DateTimeOffset>(4),
                reader.IsDBNull(5) ? null : reader.GetFieldValue<DateTimeOffset>(5)));
        }

        return list;
    }
}
