using System.Threading.Tasks;
using Npgsql;
using Xunit;

namespace ScaleOps.TestInfrastructure;

/// <summary>
/// A class fixture (<c>IClassFixture&lt;PostgresDatabase&gt;</c>): a fresh database per test class, cloned from a
/// template, dropped afterwards. Derive and override <see cref="InitializeTemplateAsync"/> to give the template a schema.
/// </summary>
public class PostgresDatabase : IAsyncLifetime
{
    private NpgsqlDataSource? _dataSource;

    /// <summary>The database name.</summary>
    public string Name { get; private set; } = "";

    /// <summary>A pooled connection string for the database (superuser).</summary>
    public string ConnectionString => PostgresServer.ConnectionStringFor(Name);

    /// <summary>A data source for the database (superuser).</summary>
    public NpgsqlDataSource DataSource => _dataSource ??= NpgsqlDataSource.Create(ConnectionString);

    /// <summary>The template's key: one template per fixture type.</summary>
    protected virtual string TemplateKey => GetType().Name;

    /// <inheritdoc />
    public virtual async Task InitializeAsync() =>
        Name = await PostgresServer.CreateDatabaseAsync(TemplateKey, InitializeTemplateAsync);

    /// <inheritdoc />
    public virtual async Task DisposeAsync()
    {
        if (_dataSource is not null)
        {
            await _dataSource.DisposeAsync();
        }

        if (Name.Length > 0)
        {
            await PostgresServer.DropDatabaseAsync(Name);
        }
    }

    /// <summary>Fills the template database once per test process. The default leaves it empty.</summary>
    /// <param name="templateDatabase">The template's name; connect with <see cref="PostgresServer.ConnectionStringFor"/>.</param>
    /// <returns>A task.</returns>
    protected virtual Task InitializeTemplateAsync(string templateDatabase) => Task.CompletedTask;
}
