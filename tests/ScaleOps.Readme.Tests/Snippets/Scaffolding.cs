namespace ScaleOps.Readme.Tests.Snippets;

// The types the README snippets assume an application has.
public sealed record Document(Guid Id);

public sealed record IndexDocument(Guid DocumentId);

public sealed class DocumentStore
{
    public Task<IReadOnlyList<Document>> ListAsync(CancellationToken cancellationToken) => Task.FromResult<IReadOnlyList<Document>>([]);
}

public sealed class Order
{
    public int Id { get; set; }

    public DateTime CreatedAt { get; set; }
}

public sealed class AppDb(DbContextOptions<AppDb> options) : DbContext(options)
{
    public DbSet<Order> Orders => Set<Order>();
}
