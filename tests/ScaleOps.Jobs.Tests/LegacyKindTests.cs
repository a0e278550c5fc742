using System.Collections.Generic;
using System.Linq;
using System.Threading.Tasks;
using ScaleOps.Jobs.Internal;
using ScaleOps.Jobs.Tests.Support;
using ScaleOps.TestInfrastructure;

namespace ScaleOps.Jobs.Tests;

/// <summary>
/// Jobs stored under a generic payload type's old kind (<see cref="System.Type.FullName"/>: type arguments
/// assembly-qualified with version, culture and token) by another runtime or package version.
/// </summary>
public class LegacyKindTests(JobsDatabase database) : IClassFixture<JobsDatabase>
{
    private const string Int32Of8 = "System.Int32, System.Private.CoreLib, Version=8.0.0.0, Culture=neutral, PublicKeyToken=7cec85d7bea7798e";
    private const string StringOfFramework = "System.String, mscorlib, Version=4.0.0.0, Culture=neutral, PublicKeyToken=b77a5c561934e089";

    private async Task<long> InsertAsync(string queue, string kind, string payload, int maxAttempts)
    {
        await using var command = database.DataSource.CreateCommand(
            "INSERT INTO scaleops.jobs (queue, kind, payload, run_at, max_attempts, created_at) " +
            "VALUES (@queue, @kind, @payload::jsonb, now(), @max, now()) RETURNING id");
        command.Parameters.AddWithValue("queue", queue);
        command.Parameters.AddWithValue("kind", kind);
        command.Parameters.AddWithValue("payload", payload);
        command.Parameters.AddWithValue("max", maxAttempts);
        return (long)(await command.ExecuteScalarAsync())!;
    }

    private Task<string> StateAsync(long id) => database.ScalarAsync<string>($"SELECT state FROM scaleops.jobs WHERE id = {id}");

    [Fact]
    public async Task A_job_stored_under_the_old_kind_by_another_runtime_or_package_version_finds_its_handler()
    {
        await using var host = await JobsHost.StartAsync(database.ConnectionString, o => o.DefaultQueue = "legacy-kind",
            jobs => jobs
                .AddHandler<Envelope<int>, EnvelopeHandler>()
                .AddHandler<Pair<Envelope<string[]>, List<int>>, PairHandler>());

        // Written as Type.FullName gave it on .NET 8 (another version of System.Private.CoreLib), on .NET Framework
        // (mscorlib), with this test assembly at another version, and with no culture or token at all.
        var envelope = "ScaleOps.Jobs.Tests.Envelope`1";
        var tests = "ScaleOps.Jobs.Tests, Version=0.9.1.0, Culture=neutral, PublicKeyToken=null";
        var kinds = new[]
        {
            $"{envelope}[[{Int32Of8}]]",
            $"{envelope}[[System.Int32, mscorlib, Version=4.0.0.0, Culture=neutral, PublicKeyToken=b77a5c561934e089]]",
            $"{envelope}[[System.Int32, System.Private.CoreLib]]",
            $"{envelope}[[System.Int32, System.Private.CoreLib, Version=11.0.0.0]]",
            $"ScaleOps.Jobs.Tests.Pair`2[[{envelope}[[System.String[], mscorlib, Version=4.0.0.0, Culture=neutral, PublicKeyToken=b77a5c561934e089]], {tests}]," +
            $"[System.Collections.Generic.List`1[[{Int32Of8}]], System.Private.CoreLib, Version=8.0.0.0, Culture=neutral, PublicKeyToken=7cec85d7bea7798e]]",
            // This runtime's FullName, as a later runtime would change it.
            typeof(Envelope<int>).FullName!.Replace(
                $"Version={typeof(int).Assembly.GetName().Version}", "Version=99.0.0.0", System.StringComparison.Ordinal),
        };
        Assert.NotEqual(typeof(Envelope<int>).FullName, kinds[5]);
        var ids = new List<long>();
        for (var i = 0; i < kinds.Length; i++)
        {
            var payload = i < 4 || i == 5 ? $"{{\"value\":{i + 10}}}" : "{\"first\":{\"value\":[\"x\"]},\"second\":[14]}";
            ids.Add(await InsertAsync("legacy-kind", kinds[i], payload, 1));
        }

        await TestSignal.UntilAsync(async () =>
        {
            foreach (var id in ids)
            {
                if (await StateAsync(id) is "pending" or "running")
                {
                    return false;
                }
            }

            return true;
        }, "the old-kind jobs to finish");

        foreach (var id in ids)
        {
            var error = await database.ScalarAsync<object>($"SELECT last_error FROM scaleops.jobs WHERE id = {id}");
            Assert.True(await StateAsync(id) == "succeeded", $"job {id} ({kinds[ids.IndexOf(id)]}): {error}");
        }

        Assert.Equal([10, 11, 12, 13, 14, 15], host.Probe.Seen.Select(s => s.N).Order());
    }

    [Fact]
    public async Task An_old_kind_of_a_type_no_handler_here_takes_or_a_malformed_one_is_still_unknown()
    {
        await using var host = await JobsHost.StartAsync(database.ConnectionString, o => o.DefaultQueue = "legacy-unknown",
            jobs => jobs.AddHandler<Envelope<int>, EnvelopeHandler>());

        var kinds = new[]
        {
            // Envelope<string>: no handler. An unbalanced name, and a generic argument missing.
            $"ScaleOps.Jobs.Tests.Envelope`1[[{StringOfFramework}]]",
            $"ScaleOps.Jobs.Tests.Envelope`1[[{Int32Of8}]",
            "ScaleOps.Jobs.Tests.Envelope`1[[]]",
            // The handler's type in another namespace; and the kind of a [JobKind] type is never a type name.
            $"Other.Envelope`1[[{Int32Of8}]]",
        };
        var ids = new List<long>();
        foreach (var kind in kinds)
        {
            ids.Add(await InsertAsync("legacy-unknown", kind, "{\"value\":1}", 1));
        }

        for (var i = 0; i < ids.Count; i++)
        {
            var id = ids[i];
            await TestSignal.UntilAsync(async () => await StateAsync(id) == "dead", $"job {id} to be dead");
            Assert.Contains(
                $"No handler for job kind '{kinds[i]}' is registered on this host",
                await database.ScalarAsync<string>($"SELECT last_error FROM scaleops.jobs WHERE id = {id}"));
        }

        Assert.Empty(host.Probe.Seen);
    }

    [Fact]
    public async Task A_unique_key_does_not_span_a_generic_types_old_kind_and_its_new_one_documented_limit()
    {
        // A job stored before the upgrade under the old kind (Type.FullName, as this runtime spells it) with a unique key,
        // still pending, and the equal job enqueued by this build (the kind without assembly information). jobs_unique is
        // (kind, tenant_id, unique_key): two spellings are two keys, so the second job is not dropped as a duplicate. The
        // README's "Limits to know" says so; this test shows the limit holds as documented.
        await using var host = await JobsHost.StartAsync(database.ConnectionString, o => o.RunWorker = false,
            jobs => jobs.AddHandler<Envelope<int>, EnvelopeHandler>());
        var oldKind = typeof(Envelope<int>).FullName!;
        Assert.NotEqual(JobKind<Envelope<int>>.Name, oldKind);
        await using (var command = database.DataSource.CreateCommand(
            "INSERT INTO scaleops.jobs (queue, kind, payload, run_at, max_attempts, created_at, unique_key) " +
            "VALUES ('legacy-unique', @kind, '{\"value\":1}', now() + interval '1 hour', 3, now(), 'k')"))
        {
            command.Parameters.AddWithValue("kind", oldKind);
            await command.ExecuteNonQueryAsync();
        }

        var again = await host.Client.EnqueueAsync(new Envelope<int>(1), new JobOptions { Queue = "legacy-unique", UniqueKey = "k" });

        Assert.NotNull(again);
        Assert.Equal(2L, await database.ScalarAsync<long>(
            "SELECT count(*) FROM scaleops.jobs WHERE queue = 'legacy-unique' AND unique_key = 'k' AND state = 'pending'"));
        // Under one spelling the key holds as usual.
        Assert.Null(await host.Client.EnqueueAsync(new Envelope<int>(2), new JobOptions { Queue = "legacy-unique", UniqueKey = "k" }));
    }
}

public sealed class PairHandler(Probe probe, ScaleOps.Tenancy.ITenantContext tenants) : IJobHandler<Pair<Envelope<string[]>, List<int>>>
{
    public Task HandleAsync(Pair<Envelope<string[]>, List<int>> payload, JobContext context, System.Threading.CancellationToken cancellationToken) =>
        probe.RunAsync(new Ping(payload.Second[0]), context, cancellationToken, tenants, 0);
}
