using System;
using System.Threading.Tasks;
using ScaleOps.TestInfrastructure;

namespace ScaleOps.Caching.Tests.Outage;

/// <summary>
/// The private redis-server the outage tests stop and pause: a test must never go on with another test's server (test
/// projects run in parallel and pick free ports the same way, so two can get the same one).
/// </summary>
public sealed class PrivateRedisServerTests
{
    [Fact]
    public async Task A_server_whose_port_another_server_holds_does_not_start_on_that_server()
    {
        await using var holder = await PrivateRedisServer.StartAsync();
        var error = await Assert.ThrowsAnyAsync<InvalidOperationException>(async () =>
        {
            await using var late = await PrivateRedisServer.StartAsync(holder.Port);
        });
        Assert.Contains($"port {holder.Port}", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Pausing_or_resuming_a_server_that_is_no_longer_running_fails_instead_of_doing_nothing()
    {
        // A test that pauses the server to see what a hang does would otherwise go on with a server that refuses
        // connections (an outage of another kind) and pass or fail for the wrong reason.
        await using var server = await PrivateRedisServer.StartAsync();
        await server.StopAsync();

        var pause = await Assert.ThrowsAsync<InvalidOperationException>(server.PauseAsync);
        Assert.Contains("not running", pause.Message, StringComparison.Ordinal);
        Assert.Contains($"port {server.Port}", pause.Message, StringComparison.Ordinal);
        await Assert.ThrowsAsync<InvalidOperationException>(server.ResumeAsync);
    }
}
