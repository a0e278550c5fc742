using System;
using System.Threading;
using System.Threading.Tasks;
using ScaleOps.Jobs.Tests.Support;

namespace ScaleOps.Jobs.Tests;

[JobKind("test.validated")]
public sealed class ValidatedPayload
{
    private readonly string _code = "OK";

    public ValidatedPayload(int n)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(n);
        N = n;
    }

    public int N { get; }

    public string Code
    {
        get => _code;
        init => _code = value.ToUpperInvariant() == value ? value : throw new FormatException($"'{value}' is not an upper-case code.");
    }
}

public sealed class ValidatedPayloadHandler : IJobHandler<ValidatedPayload>
{
    public Task HandleAsync(ValidatedPayload payload, JobContext context, CancellationToken cancellationToken) => Task.CompletedTask;
}

[JobKind("test.null-task")]
public sealed record NullTask(int N);

/// <summary>An exception whose message cannot be read: its getter throws.</summary>
public sealed class UnprintableException : Exception
{
    public override string Message => throw new FormatException("Input string was not in a correct format.");
}

public sealed class NullTaskHandler : IJobHandler<NullTask>
{
    public Task HandleAsync(NullTask payload, JobContext context, CancellationToken cancellationToken) => null!;
}

public partial class WorkerTests
{
    [Fact]
    public async Task A_payload_that_cannot_be_deserialized_is_dead_at_once()
    {
        await using var host = await StartAsync("w-payload");
        var id = await database.ScalarAsync<long>(
            "INSERT INTO scaleops.jobs (queue, kind, payload, run_at, max_attempts, created_at) "
            + "VALUES ('w-payload', 'test.ping', '{\"n\": \"not a number\"}', now(), 5, now()) RETURNING id");
        await UntilStateAsync(id, "dead");
        var error = await ErrorOfAsync(id);
        Assert.Contains("cannot be deserialized into ScaleOps.Jobs.Tests.Support.Ping", error);
        Assert.Equal(1, await database.ScalarAsync<int>($"SELECT attempt FROM scaleops.jobs WHERE id = {id}"));

        var nullPayload = await database.ScalarAsync<long>(
            "INSERT INTO scaleops.jobs (queue, kind, payload, run_at, max_attempts, created_at) "
            + "VALUES ('w-payload', 'test.ping', 'null', now(), 5, now()) RETURNING id");
        await UntilStateAsync(nullPayload, "dead");
        Assert.Contains("is JSON null", await ErrorOfAsync(nullPayload));
        Assert.Empty(host.Probe.Seen);
    }

    [Fact]
    public async Task A_payload_whose_constructor_or_setter_rejects_the_json_is_dead_at_once()
    {
        // Valid JSON that the payload type itself refuses (its constructor throws ArgumentOutOfRangeException, a setter
        // FormatException): every attempt would throw the same, so the job is dead at its first attempt.
        await using var host = await JobsHost.StartAsync(database.ConnectionString, o => o.DefaultQueue = "w-validated",
            jobs => jobs.AddHandler<ValidatedPayload, ValidatedPayloadHandler>());
        var negative = await database.ScalarAsync<long>(
            "INSERT INTO scaleops.jobs (queue, kind, payload, run_at, max_attempts, created_at) "
            + "VALUES ('w-validated', 'test.validated', '{\"n\": -1}', now(), 5, now()) RETURNING id");
        var badCode = await database.ScalarAsync<long>(
            "INSERT INTO scaleops.jobs (queue, kind, payload, run_at, max_attempts, created_at) "
            + "VALUES ('w-validated', 'test.validated', '{\"n\": 1, \"code\": \"lower\"}', now(), 5, now()) RETURNING id");
        await UntilStateAsync(negative, "dead");
        await UntilStateAsync(badCode, "dead");
        Assert.Contains("cannot be deserialized into ScaleOps.Jobs.Tests.ValidatedPayload", await ErrorOfAsync(negative));
        Assert.Contains("ArgumentOutOfRangeException", await ErrorOfAsync(negative));
        Assert.Contains("FormatException", await ErrorOfAsync(badCode));
        Assert.Equal(2L, await database.ScalarAsync<long>(
            $"SELECT count(*) FROM scaleops.jobs WHERE id IN ({negative}, {badCode}) AND attempt = 1"));
    }

    [Fact]
    public async Task A_handler_that_returns_a_null_task_fails_the_attempt_with_a_message_naming_it()
    {
        await using var host = await JobsHost.StartAsync(database.ConnectionString, o => o.DefaultQueue = "w-null-task",
            jobs => jobs.AddHandler<NullTask, NullTaskHandler>());
        var id = (await host.Client.EnqueueAsync(new NullTask(1), new JobOptions { MaxAttempts = 2 }))!.Value;
        await UntilStateAsync(id, "dead");
        var error = await ErrorOfAsync(id);
        Assert.Contains("ScaleOps.Jobs.Tests.NullTaskHandler.HandleAsync returned a null Task", error);
        Assert.DoesNotContain("NullReferenceException", error);
        Assert.Equal(2, await database.ScalarAsync<int>($"SELECT attempt FROM scaleops.jobs WHERE id = {id}"));
    }

    [Fact]
    public async Task A_handler_exception_whose_message_cannot_be_read_still_fails_the_attempt_and_the_job_is_retried()
    {
        // Describing the exception used to throw inside the executor's catch: the attempt ended without an outcome, its
        // lease stayed registered and heartbeated, and the job stayed running forever.
        var probe = new Probe { Behavior = (_, c, _) => c.Attempt == 1 ? Task.FromException(new UnprintableException()) : Task.CompletedTask };
        await using var host = await StartAsync("w-unprintable", o =>
        {
            o.RetryBaseDelay = TimeSpan.FromMilliseconds(10);
            o.RetryMaxDelay = TimeSpan.FromMilliseconds(10);
        }, probe);
        var id = (await host.Client.EnqueueAsync(new Ping(1), new JobOptions { MaxAttempts = 3 }))!.Value;
        await UntilStateAsync(id, "succeeded");
        Assert.Equal(2, await database.ScalarAsync<int>($"SELECT attempt FROM scaleops.jobs WHERE id = {id}"));
        var error = await ErrorOfAsync(id);
        Assert.StartsWith(typeof(UnprintableException).FullName + ": (its message could not be read: System.FormatException)", error, StringComparison.Ordinal);
    }
}
