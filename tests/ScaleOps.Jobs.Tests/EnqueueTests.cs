using System;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using Microsoft.Extensions.DependencyInjection;
using ScaleOps.Jobs.Internal;
using ScaleOps.Jobs.Tests.Support;
using ScaleOps.Tenancy;
using ScaleOps.TestInfrastructure;

namespace ScaleOps.Jobs.Tests;

public sealed record Envelope<T>(T Value);

public sealed record Pair<TFirst, TSecond>(TFirst First, TSecond Second);

public sealed record PayloadWhoseNameIsSoLongThatTwoOfThemInOneGenericTypeMakeAJobKindOfMoreThanTwoHundredCharacters(int N);

public sealed class EnvelopeHandler(Probe probe, ITenantContext tenants) : IJobHandler<Envelope<int>>
{
    public Task HandleAsync(Envelope<int> payload, JobContext context, CancellationToken cancellationToken) =>
        probe.RunAsync(new Ping(payload.Value), context, cancellationToken, tenants, 0);
}

public class EnqueueTests(JobsDatabase database) : IClassFixture<JobsDatabase>
{
    private Task<JobsHost> StartClientOnlyAsync() => JobsHost.StartAsync(database.ConnectionString, o => o.RunWorker = false);

    [Fact]
    public async Task A_job_is_stored_with_its_options_and_defaults()
    {
        await using var host = await StartClientOnlyAsync();
        var runAt = DateTimeOffset.UtcNow.AddHours(1);
        var id = await host.Client.EnqueueAsync(new Ping(1), new JobOptions
        {
            Queue = "q-options", Priority = JobPriority.High, RunAt = runAt, MaxAttempts = 3, Timeout = TimeSpan.FromSeconds(9),
            Tenant = new TenantId("acme"), ConcurrencyKey = "host:a",
        });

        var job = await host.Admin.GetAsync(id!.Value);
        Assert.NotNull(job);
        Assert.Equal("q-options", job.Queue);
        Assert.Equal("test.ping", job.Kind);
        Assert.Equal(JobPriority.High, job.Priority);
        Assert.Equal(JobState.Pending, job.State);
        Assert.Equal(3, job.MaxAttempts);
        Assert.Equal(new TenantId("acme"), job.Tenant);
        Assert.Equal("host:a", job.ConcurrencyKey);
        Assert.Equal(runAt.ToUnixTimeMilliseconds(), job.RunAt.ToUnixTimeMilliseconds());
        Assert.Equal("""{"n":1,"tag":null}""", job.Payload.Replace(" ", "", StringComparison.Ordinal));
        Assert.Equal(9000, await database.ScalarAsync<int>($"SELECT timeout_ms FROM scaleops.jobs WHERE id = {id}"));
        Assert.Equal(1, await database.ScalarAsync<int>($"SELECT concurrency_limit FROM scaleops.jobs WHERE id = {id}"));

        var plain = await host.Admin.GetAsync((await host.Client.EnqueueAsync(new Ping(2), new JobOptions { Queue = "q-options" }))!.Value);
        Assert.Equal(JobPriority.Standard, plain!.Priority);
        Assert.Equal(25, plain.MaxAttempts);
        Assert.Null(plain.Tenant);
    }

    [Fact]
    public async Task The_tenant_defaults_to_the_ambient_tenant()
    {
        await using var host = await StartClientOnlyAsync();
        var tenants = host.Services.GetRequiredService<ITenantContext>();
        long? id;
        using (tenants.BeginScope(new TenantId("ambient-co")))
        {
            id = await host.Client.EnqueueAsync(new Ping(1), new JobOptions { Queue = "q-ambient" });
        }

        Assert.Equal(new TenantId("ambient-co"), (await host.Admin.GetAsync(id!.Value))!.Tenant);
    }

    [Fact]
    public async Task A_unique_key_drops_duplicates_while_pending_or_running_only()
    {
        await using var host = await StartClientOnlyAsync();
        var options = new JobOptions { Queue = "q-unique", UniqueKey = "recompute:42" };
        var first = await host.Client.EnqueueAsync(new Ping(1), options);
        Assert.NotNull(first);
        Assert.Null(await host.Client.EnqueueAsync(new Ping(2), options));

        // Another tenant or another key is another job.
        Assert.NotNull(await host.Client.EnqueueAsync(new Ping(3), new JobOptions { Queue = "q-unique", UniqueKey = "recompute:42", Tenant = new TenantId("t2") }));
        Assert.NotNull(await host.Client.EnqueueAsync(new Ping(4), new JobOptions { Queue = "q-unique", UniqueKey = "recompute:43" }));

        // Once the first one finished, the key is free again.
        await database.ExecuteAsync($"UPDATE scaleops.jobs SET state = 'succeeded', finished_at = now() WHERE id = {first}");
        Assert.NotNull(await host.Client.EnqueueAsync(new Ping(5), options));
    }

    [Fact]
    public async Task A_batch_is_inserted_in_one_call_and_a_batch_unique_key_keeps_one_job()
    {
        await using var host = await StartClientOnlyAsync();
        var inserted = await host.Client.EnqueueManyAsync(Enumerable.Range(0, 5000).Select(i => new Ping(i)).ToList(), new JobOptions { Queue = "q-bulk" });
        Assert.Equal(5000, inserted);
        Assert.Equal(5000L, await database.ScalarAsync<long>("SELECT count(DISTINCT payload::text) FROM scaleops.jobs WHERE queue = 'q-bulk'"));
        Assert.Equal(0, await host.Client.EnqueueManyAsync(Array.Empty<Ping>(), new JobOptions { Queue = "q-bulk" }));
        Assert.Equal(1, await host.Client.EnqueueManyAsync([new Ping(1), new Ping(2)], new JobOptions { Queue = "q-bulk-u", UniqueKey = "k" }));
    }

    [Fact]
    public async Task A_job_enqueued_in_the_callers_transaction_exists_only_if_it_commits()
    {
        await using var host = await StartClientOnlyAsync();
        await using var connection = await database.DataSource.OpenConnectionAsync();
        await using (var rolledBack = await connection.BeginTransactionAsync())
        {
            await host.Client.EnqueueAsync(connection, rolledBack, new Ping(1), new JobOptions { Queue = "q-tx" }, default);
            await host.Client.EnqueueManyAsync(connection, rolledBack, [new Ping(2), new Ping(3)], new JobOptions { Queue = "q-tx" }, default);
            Assert.Equal(3L, await CountAsync(connection, rolledBack));
            await rolledBack.RollbackAsync();
        }

        Assert.Equal(0L, await database.ScalarAsync<long>("SELECT count(*) FROM scaleops.jobs WHERE queue = 'q-tx'"));
        await using (var committed = await connection.BeginTransactionAsync())
        {
            await host.Client.EnqueueAsync(connection, committed, new Ping(4), new JobOptions { Queue = "q-tx" }, default);
            await committed.CommitAsync();
        }

        Assert.Equal(1L, await database.ScalarAsync<long>("SELECT count(*) FROM scaleops.jobs WHERE queue = 'q-tx'"));
    }

    [Fact]
    public async Task A_transaction_on_a_database_without_the_jobs_tables_gets_an_error_naming_the_database()
    {
        // A tenant placed on a shard (ScaleOps.Rls) has its transaction on the shard, which has no jobs tables.
        await using var host = await StartClientOnlyAsync();
        var other = await PostgresServer.CreateDatabaseAsync("jobs-none", _ => Task.CompletedTask);
        try
        {
            await using var connection = new Npgsql.NpgsqlConnection(PostgresServer.ConnectionStringFor(other));
            await connection.OpenAsync();
            await using var transaction = await connection.BeginTransactionAsync();
            var one = await Assert.ThrowsAsync<InvalidOperationException>(
                () => host.Client.EnqueueAsync(connection, transaction, new Ping(1), new JobOptions { Queue = "q-shard" }, default));
            Assert.Contains($"database '{other}'", one.Message);
            Assert.Contains("no jobs tables", one.Message);
            await transaction.RollbackAsync();

            await using var second = await connection.BeginTransactionAsync();
            var many = await Assert.ThrowsAsync<InvalidOperationException>(
                () => host.Client.EnqueueManyAsync(connection, second, [new Ping(2), new Ping(3)], new JobOptions { Queue = "q-shard" }, default));
            Assert.Contains($"database '{other}'", many.Message);
        }
        finally
        {
            await PostgresServer.DropDatabaseAsync(other);
        }
    }

    [Fact]
    public async Task Jobs_enqueued_without_a_connection_inside_a_TransactionScope_exist_only_if_it_commits()
    {
        // The pooled connection enlists in the ambient transaction. A batch without unique keys (COPY) used to begin a
        // transaction of its own on it and failed with "A transaction is already in progress".
        await using var host = await StartClientOnlyAsync();
        Task<long> CountAsync(string queue) => database.ScalarAsync<long>($"SELECT count(*) FROM scaleops.jobs WHERE queue = '{queue}'");
        using (new System.Transactions.TransactionScope(System.Transactions.TransactionScopeAsyncFlowOption.Enabled))
        {
            Assert.NotNull(await host.Client.EnqueueAsync(new Ping(1), new JobOptions { Queue = "q-ts-one" }));
            Assert.Equal(2, await host.Client.EnqueueManyAsync([new Ping(2), new Ping(3)], new JobOptions { Queue = "q-ts-many" }));
            Assert.Equal(1, await host.Client.EnqueueManyAsync([new Ping(4), new Ping(5)], new JobOptions { Queue = "q-ts-keyed", UniqueKey = "u" }));
        }

        Assert.Equal(0L, await CountAsync("q-ts-one"));
        Assert.Equal(0L, await CountAsync("q-ts-many"));
        Assert.Equal(0L, await CountAsync("q-ts-keyed"));

        using (var scope = new System.Transactions.TransactionScope(System.Transactions.TransactionScopeAsyncFlowOption.Enabled))
        {
            Assert.NotNull(await host.Client.EnqueueAsync(new Ping(1), new JobOptions { Queue = "q-ts-one" }));
            Assert.Equal(2, await host.Client.EnqueueManyAsync([new Ping(2), new Ping(3)], new JobOptions { Queue = "q-ts-many" }));
            Assert.Equal(1, await host.Client.EnqueueManyAsync([new Ping(4), new Ping(5)], new JobOptions { Queue = "q-ts-keyed", UniqueKey = "u" }));
            scope.Complete();
        }

        Assert.Equal(1L, await CountAsync("q-ts-one"));
        Assert.Equal(2L, await CountAsync("q-ts-many"));
        Assert.Equal(1L, await CountAsync("q-ts-keyed"));
    }

    private static async Task<long> CountAsync(Npgsql.NpgsqlConnection connection, Npgsql.NpgsqlTransaction transaction)
    {
        await using var command = new Npgsql.NpgsqlCommand("SELECT count(*) FROM scaleops.jobs WHERE queue = 'q-tx'", connection, transaction);
        return (long)(await command.ExecuteScalarAsync())!;
    }

    [Fact]
    public async Task Bad_input_is_rejected_with_a_message_that_names_the_option()
    {
        await using var host = await StartClientOnlyAsync();
        async Task<string> Rejects(JobOptions options) =>
            (await Assert.ThrowsAsync<ArgumentException>(() => host.Client.EnqueueAsync(new Ping(1), options))).Message;

        Assert.Contains("RunAt or JobOptions.Delay", await Rejects(new JobOptions { RunAt = DateTimeOffset.UtcNow, Delay = TimeSpan.FromSeconds(1) }));
        Assert.Contains("JobOptions.Delay", await Rejects(new JobOptions { Delay = TimeSpan.FromSeconds(-1) }));
        Assert.Contains("JobOptions.MaxAttempts", await Rejects(new JobOptions { MaxAttempts = 0 }));
        Assert.Contains("JobOptions.Timeout", await Rejects(new JobOptions { Timeout = TimeSpan.Zero }));
        Assert.Contains("JobOptions.Queue", await Rejects(new JobOptions { Queue = " " }));
        Assert.Contains("JobOptions.Queue", await Rejects(new JobOptions { Queue = new string('q', 101) }));
        Assert.Contains("JobOptions.Priority", await Rejects(new JobOptions { Priority = (JobPriority)9 }));
        Assert.Contains("JobOptions.UniqueKey", await Rejects(new JobOptions { UniqueKey = "" }));
        Assert.Contains("needs a JobOptions.ConcurrencyKey", await Rejects(new JobOptions { ConcurrencyLimit = 2 }));
        Assert.Contains("JobOptions.ConcurrencyLimit", await Rejects(new JobOptions { ConcurrencyKey = "k", ConcurrencyLimit = 0 }));
        Assert.Contains("JobOptions.Tenant", await Rejects(new JobOptions { Tenant = default(TenantId) }));
        await Assert.ThrowsAsync<ArgumentNullException>(() => host.Client.EnqueueAsync<Ping>(null!));
        await Assert.ThrowsAsync<ArgumentNullException>(() => host.Client.EnqueueManyAsync<Ping>(null!));
        // A null element of a batch is named by its index (it was an ArgumentNullException for a parameter "payload").
        var nullElement = await Assert.ThrowsAsync<ArgumentException>(() => host.Client.EnqueueManyAsync<Ping>([new Ping(1), null!, new Ping(3)]));
        Assert.Equal(("payloads", "payloads[1] is null: a job payload cannot be null. (Parameter 'payloads')"), (nullElement.ParamName, nullElement.Message));

        await using var closed = database.DataSource.CreateConnection();
        var notOpen = await Assert.ThrowsAsync<ArgumentException>(() => host.Client.EnqueueAsync(closed, null, new Ping(1), null, default));
        Assert.Contains("must be open", notOpen.Message);
        Assert.Equal(0L, await database.ScalarAsync<long>("SELECT count(*) FROM scaleops.jobs WHERE kind = 'test.ping' AND queue = 'default'"));
    }

    [Fact]
    public async Task The_kind_of_a_generic_payload_type_names_its_type_arguments_without_assembly_versions()
    {
        // Type.FullName gives the arguments assembly-qualified (Version=..., PublicKeyToken=...): the kind changed with
        // the runtime or a package version and the stored jobs became of an unknown kind.
        Assert.Equal("ScaleOps.Jobs.Tests.Envelope`1[System.Int32]", JobKind<Envelope<int>>.Name);
        Assert.Equal(
            "ScaleOps.Jobs.Tests.Pair`2[ScaleOps.Jobs.Tests.Envelope`1[System.String[]],System.Collections.Generic.List`1[System.Int32]]",
            JobKind<Pair<Envelope<string[]>, System.Collections.Generic.List<int>>>.Name);
        Assert.Equal("test.ping", JobKind<Ping>.Name);
        Assert.Equal("ScaleOps.Jobs.Tests.EnqueueTests", JobKind<EnqueueTests>.Name);

        await using var host = await JobsHost.StartAsync(database.ConnectionString, o => o.DefaultQueue = "generic-kind",
            jobs => jobs.AddHandler<Envelope<int>, EnvelopeHandler>());
        var id = (await host.Client.EnqueueAsync(new Envelope<int>(5)))!.Value;
        Assert.Equal("ScaleOps.Jobs.Tests.Envelope`1[System.Int32]", (await host.Admin.GetAsync(id))!.Kind);

        // A job stored under the old kind (by the same runtime version) still finds its handler.
        var legacy = await database.ScalarAsync<long>(
            "INSERT INTO scaleops.jobs (queue, kind, payload, run_at, max_attempts, created_at) " +
            $"VALUES ('generic-kind', '{typeof(Envelope<int>).FullName}', '{{\"value\":6}}', now(), 1, now()) RETURNING id");
        await TestSignal.UntilAsync(async () => (await host.Admin.GetAsync(id))!.State == JobState.Succeeded
            && (await host.Admin.GetAsync(legacy))!.State == JobState.Succeeded, "both jobs to succeed");
        Assert.Equal([5, 6], host.Probe.Seen.Select(s => s.N).Order());
    }

    [Fact]
    public async Task A_payload_type_whose_kind_is_too_long_is_rejected_with_an_argument_exception_naming_it_every_time()
    {
        await using var host = await StartClientOnlyAsync();
        var payload = new Pair<PayloadWhoseNameIsSoLongThatTwoOfThemInOneGenericTypeMakeAJobKindOfMoreThanTwoHundredCharacters,
            PayloadWhoseNameIsSoLongThatTwoOfThemInOneGenericTypeMakeAJobKindOfMoreThanTwoHundredCharacters>(new(1), new(2));

        // Every time: an exception thrown by a static initializer would be a TypeInitializationException, cached for good.
        for (var i = 0; i < 2; i++)
        {
            var ex = await Assert.ThrowsAsync<ArgumentException>(() => host.Client.EnqueueAsync(payload, new JobOptions { Queue = "long-kind" }));
            Assert.Contains("ScaleOps.Jobs.Tests.Pair`2[", ex.Message);
            Assert.Contains("[JobKind", ex.Message);
        }

        var jobs = new ServiceCollection().AddScaleOps().AddJobs();
        Assert.Contains("[JobKind", Assert.Throws<ArgumentException>(() => jobs.AddRecurring("long-kind", "0 4 * * *", payload)).Message);
        Assert.Equal(0L, await database.ScalarAsync<long>("SELECT count(*) FROM scaleops.jobs WHERE queue = 'long-kind'"));
    }
}
