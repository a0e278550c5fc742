using System;
using System.Collections.Concurrent;
using System.Text.Json;
using System.Text.Json.Serialization;
using System.Threading;
using System.Threading.Tasks;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Storage;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using ScaleOps.Jobs.Tests.Support;
using ScaleOps.TestInfrastructure;

namespace ScaleOps.Jobs.Tests;

[JobKind("test.generated")]
public sealed record GeneratedPayload(int OrderId, string Note);

/// <summary>A source-generated context with its own naming policy, so a test can see that it, not reflection, was used.</summary>
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower)]
[JsonSerializable(typeof(GeneratedPayload))]
internal sealed partial class GeneratedJobsJsonContext : JsonSerializerContext;

public sealed class GeneratedPayloads
{
    public ConcurrentQueue<GeneratedPayload> Seen { get; } = new();
}

public sealed class GeneratedHandler(GeneratedPayloads seen) : IJobHandler<GeneratedPayload>
{
    public Task HandleAsync(GeneratedPayload payload, JobContext context, CancellationToken cancellationToken)
    {
        seen.Seen.Enqueue(payload);
        return Task.CompletedTask;
    }
}

public sealed class EfOrder
{
    public long Id { get; set; }

    public string Note { get; set; } = "";
}

public sealed class OrdersDbContext(DbContextOptions<OrdersDbContext> options) : DbContext(options)
{
    public DbSet<EfOrder> Orders => Set<EfOrder>();

    protected override void OnModelCreating(ModelBuilder modelBuilder) =>
        modelBuilder.Entity<EfOrder>(e =>
        {
            e.ToTable("ef_orders");
            e.Property(o => o.Id).HasColumnName("id");
            e.Property(o => o.Note).HasColumnName("note");
        });
}

/// <summary>The queue with the libraries around it: a source-generated JSON context, EF Core's transaction.</summary>
public class IntegrationTests(JobsDatabase database) : IClassFixture<JobsDatabase>
{
    private Task UntilStateAsync(long id, string state) => TestSignal.UntilAsync(
        async () => await database.ScalarAsync<string>($"SELECT state FROM scaleops.jobs WHERE id = {id}") == state, $"job {id} to be {state}");

    [Fact]
    public async Task Payloads_go_through_a_source_generated_json_context()
    {
        var seen = new GeneratedPayloads();
        await using var host = await JobsHost.StartAsync(database.ConnectionString, o =>
        {
            o.DefaultQueue = "i-json";
            o.SerializerOptions = GeneratedJobsJsonContext.Default.Options;
        }, jobs: b => b.AddHandler<GeneratedPayload, GeneratedHandler>(), services: s => s.AddSingleton(seen));

        var id = (await host.Client.EnqueueAsync(new GeneratedPayload(7, "seven")))!.Value;
        await UntilStateAsync(id, "succeeded");

        // Written with the context's snake_case names, read back with them.
        Assert.Equal(7, await database.ScalarAsync<int>($"SELECT (payload->>'order_id')::int FROM scaleops.jobs WHERE id = {id}"));
        Assert.Equal(new GeneratedPayload(7, "seven"), Assert.Single(seen.Seen));

        // The context is the only resolver: a type it does not know is refused (no reflection fallback).
        var refused = await Assert.ThrowsAsync<ArgumentException>(() => host.Client.EnqueueAsync(new Ping(1)));
        Assert.Contains("cannot be serialized to JSON", refused.Message);
    }

    [Fact]
    public async Task A_job_enqueued_in_an_ef_core_transaction_exists_and_runs_only_if_it_commits()
    {
        await database.ExecuteAsync("CREATE TABLE IF NOT EXISTS ef_orders (id bigserial PRIMARY KEY, note text NOT NULL)");
        var seen = new GeneratedPayloads();
        await using var host = await JobsHost.StartAsync(database.ConnectionString, o => o.DefaultQueue = "i-ef",
            jobs: b => b.AddHandler<GeneratedPayload, GeneratedHandler>(), services: s => s.AddSingleton(seen));
        var efOptions = new DbContextOptionsBuilder<OrdersDbContext>().UseNpgsql(database.ConnectionString).Options;

        await using (var db = new OrdersDbContext(efOptions))
        {
            await using var tx = await db.Database.BeginTransactionAsync();
            var order = new EfOrder { Note = "rolled back" };
            db.Orders.Add(order);
            await db.SaveChangesAsync();
            await host.Client.EnqueueAsync(
                (NpgsqlConnection)db.Database.GetDbConnection(), (NpgsqlTransaction)tx.GetDbTransaction(),
                new GeneratedPayload((int)order.Id, "rolled back"), null, default);
            await tx.RollbackAsync();
        }

        long committedOrder;
        await using (var db = new OrdersDbContext(efOptions))
        {
            await using var tx = await db.Database.BeginTransactionAsync();
            var order = new EfOrder { Note = "committed" };
            db.Orders.Add(order);
            await db.SaveChangesAsync();
            committedOrder = order.Id;
            await host.Client.EnqueueAsync(
                (NpgsqlConnection)db.Database.GetDbConnection(), (NpgsqlTransaction)tx.GetDbTransaction(),
                new GeneratedPayload((int)order.Id, "committed"), null, default);
            await tx.CommitAsync();
        }

        await TestSignal.UntilAsync(() => Task.FromResult(!seen.Seen.IsEmpty), "the committed job to run");
        Assert.Equal(new GeneratedPayload((int)committedOrder, "committed"), Assert.Single(seen.Seen));
        Assert.Equal(1L, await database.ScalarAsync<long>("SELECT count(*) FROM scaleops.jobs WHERE kind = 'test.generated' AND queue = 'i-ef'"));
        Assert.Equal(1L, await database.ScalarAsync<long>("SELECT count(*) FROM ef_orders"));
    }
}
