using System;
using Microsoft.EntityFrameworkCore;

namespace ScaleOps.Rls.Tests.Support;

public sealed class Document
{
    public long Id { get; set; }

    public string TenantId { get; set; } = "";

    public string? UserId { get; set; }

    public string Title { get; set; } = "";

    public DateTime CreatedAt { get; set; } = DateTime.UtcNow;
}

public sealed class DocumentsContext(DbContextOptions<DocumentsContext> options) : DbContext(options)
{
    public DbSet<Document> Documents => Set<Document>();

    protected override void OnModelCreating(ModelBuilder modelBuilder)
    {
        modelBuilder.Entity<Document>(e =>
        {
            e.ToTable("documents");
            e.Property(d => d.Id).HasColumnName("id").UseIdentityAlwaysColumn();
            e.Property(d => d.TenantId).HasColumnName("tenant_id");
            e.Property(d => d.UserId).HasColumnName("user_id");
            e.Property(d => d.Title).HasColumnName("title");
            e.Property(d => d.CreatedAt).HasColumnName("created_at");
        });
    }
}
