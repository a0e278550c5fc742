using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.Linq;
using System.Threading.Tasks;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using ScaleOps.Benchmarks.Rls;
using ScaleOps.Rls.EntityFrameworkCore;
using ScaleOps.Tenancy;
using ScaleOps.TestInfrastructure;

namespace ScaleOps.RlsBench;

/// <summary>
/// <c>run.sh --ef-save</c>: what EF Core's SaveChanges costs through <see cref="RlsDbCommandInterceptor"/>, which runs it in
/// a transaction with the context set before each batch (context + BEGIN, batch, COMMIT: three round trips), against
/// plain EF Core as a BYPASSRLS role on the same table (one round trip, autocommit). Whole requests: a new context, then
/// either "insert" (Add + SaveChanges) or "load and update" (a point query by id and tenant, a changed property,
/// SaveChanges). Rounds of blocks in rotated order; per round the median latency, ratios taken inside each round.
/// fsync and synchronous_commit are on (the test server's settings), so every save waits for its WAL flush.
/// </summary>
internal static class EfSave
{
    private const int Rounds = 7;
    private const int Block = 40;

    public static async Task RunAsync()
    {
        await using (var admin = await PostgresServer.OpenAdminAsync(RlsBenchmarkData.Database))
        {
            foreach (var sql in new[]
                     {
                         "CREATE TABLE IF NOT EXISTS ef_notes (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, tenant_id uuid NOT NULL, body text NOT NULL)",
                         "CREATE INDEX IF NOT EXISTS ef_notes_tenant ON ef_notes (tenant_id)",
                         "ALTER TABLE ef_notes ENABLE ROW LEVEL SECURITY",
                         "ALTER TABLE ef_notes FORCE ROW LEVEL SECURITY",
                         "DROP POLICY IF EXISTS ef_ours ON ef_notes",
                         "CREATE POLICY ef_ours ON ef_notes TO bench_app USING (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid)",
                         "GRANT SELECT, INSERT, UPDATE ON ef_notes TO bench_app, bench_plain",
                         "TRUNCATE ef_notes",
                         "VACUUM ANALYZE ef_notes",
                     })
            {
                await using var command = new NpgsqlCommand(sql, admin);
                await command.ExecuteNonQueryAsync();
            }
        }

        var tenant = Guid.Parse("00000000-0000-4000-8000-00000000e5a7");
        await using var scaleOps = Variants.Build("bench_app");
        var interceptor = scaleOps.GetRequiredService<RlsDbCommandInterceptor>();
        var oursOptions = new DbContextOptionsBuilder<NotesContext>().UseNpgsql(scaleOps.GetRequiredService<NpgsqlDataSource>())
            .AddInterceptors(interceptor).Options;
        await using var plainSource = NpgsqlDataSource.Create(RlsBenchmarkData.ConnectionString("bench_plain"));
        var plainOptions = new DbContextOptionsBuilder<NotesContext>().UseNpgsql(plainSource).Options;
        using var scope = scaleOps.GetRequiredService<ITenantContext>().BeginScope(new TenantId(tenant.ToString()));

        long plainId, oursId;
        await using (var db = new NotesContext(plainOptions))
        {
            var note = new Note { TenantId = tenant, Body = "plain" };
            db.Notes.Add(note);
            await db.SaveChangesAsync();
            plainId = note.Id;
        }

        await using (var db = new NotesContext(oursOptions))
        {
            var note = new Note { TenantId = tenant, Body = "ours" };
            db.Notes.Add(note);
            await db.SaveChangesAsync();
            oursId = note.Id;
        }

        var counter = 0;
        async Task Insert(DbContextOptions<NotesContext> options)
        {
            await using var db = new NotesContext(options);
            db.Notes.Add(new Note { TenantId = tenant, Body = "n" });
            await db.SaveChangesAsync();
        }

        async Task Update(DbContextOptions<NotesContext> options, long id)
        {
            await using var db = new NotesContext(options);
            var note = await db.Notes.SingleAsync(n => n.Id == id && n.TenantId == tenant);
            note.Body = (++counter).ToString(CultureInfo.InvariantCulture);
            await db.SaveChangesAsync();
        }

        Console.WriteLine($"EF Core SaveChanges, {Rounds} rounds x {Block} requests per variant, started {DateTime.UtcNow:u}, load {Load()}");
        Console.WriteLine();
        Console.WriteLine("| request | plain EF Core, BYPASSRLS: µs, median [range] | ScaleOps interceptor: µs, median [range] | ratio, median [range] |");
        Console.WriteLine("|---|---|---|---|");
        await CompareAsync("insert (Add + SaveChanges)", () => Insert(plainOptions), () => Insert(oursOptions));
        await CompareAsync("load by id and update (query + SaveChanges)", () => Update(plainOptions, plainId), () => Update(oursOptions, oursId));
        Console.WriteLine();
        Console.WriteLine($"finished {DateTime.UtcNow:u}, load {Load()}");
    }

    private static async Task CompareAsync(string name, Func<Task> plain, Func<Task> ours)
    {
        for (var i = 0; i < 30; i++)
        {
            await plain();
            await ours();
        }

        var plainMedians = new List<double>();
        var oursMedians = new List<double>();
        var ratios = new List<double>();
        for (var round = 0; round < Rounds; round++)
        {
            var (first, second) = round % 2 == 0 ? (plain, ours) : (ours, plain);
            var a = await BlockAsync(first);
            var b = await BlockAsync(second);
            var (p, o) = round % 2 == 0 ? (a, b) : (b, a);
            plainMedians.Add(p);
            oursMedians.Add(o);
            ratios.Add(o / p);
        }

        Console.WriteLine($"| {name} | {Summary(plainMedians, "N0")} | {Summary(oursMedians, "N0")} | {Summary(ratios, "0.00")}x |");
    }

    private static async Task<double> BlockAsync(Func<Task> request)
    {
        var samples = new List<double>(Block);
        for (var i = 0; i < Block; i++)
        {
            var start = Stopwatch.GetTimestamp();
            await request();
            samples.Add(Stopwatch.GetElapsedTime(start).TotalMicroseconds);
        }

        return Median(samples);
    }

    private static string Summary(List<double> values, string format) =>
        $"{Median(values).ToString(format, CultureInfo.InvariantCulture)} [{values.Min().ToString(format, CultureInfo.InvariantCulture)}-{values.Max().ToString(format, CultureInfo.InvariantCulture)}]";

    private static double Median(List<double> values) => Program.Median(values);

    private static string Load() => Program.LoadAverage();

    private sealed class Note
    {
        public long Id { get; set; }

        public Guid TenantId { get; set; }

        public string Body { get; set; } = "";
    }

    private sealed class NotesContext(DbContextOptions<NotesContext> options) : DbContext(options)
    {
        public DbSet<Note> Notes => Set<Note>();

        protected override void OnModelCreating(ModelBuilder modelBuilder) => modelBuilder.Entity<Note>(e =>
        {
            e.ToTable("ef_notes");
            e.Property(n => n.Id).HasColumnName("id").UseIdentityAlwaysColumn();
            e.Property(n => n.TenantId).HasColumnName("tenant_id");
            e.Property(n => n.Body).HasColumnName("body");
        });
    }
}
