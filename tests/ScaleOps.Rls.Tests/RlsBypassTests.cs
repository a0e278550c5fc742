using System;
using System.Linq;
using System.Threading.Tasks;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Testing;
using Npgsql;
using ScaleOps.Rls.Tests.Support;

namespace ScaleOps.Rls.Tests;

public class RlsBypassTests(RlsDatabase database) : IClassFixture<RlsDatabase>
{
    private static ServiceProvider Services(string app, string? bypass)
    {
        var services = new ServiceCollection();
        services.AddFakeLogging();
        services.AddScaleOps(o => o.ConnectionString = app).AddRls(o => o.BypassConnectionString = bypass);
        return services.BuildServiceProvider();
    }

    [Fact]
    public async Task System_work_sees_every_tenant_through_the_bypass_role_and_is_logged()
    {
        await using var services = Services(database.AppConnectionString(), database.BypassConnectionString);
        var bypass = services.GetRequiredService<RlsBypass>();
        await using (var connection = await bypass.OpenConnectionAsync("nightly usage report"))
        {
            await using var command = new NpgsqlCommand("SELECT count(DISTINCT tenant_id), count(*) FROM documents", connection);
            await using var reader = await command.ExecuteReaderAsync();
            await reader.ReadAsync();
            Assert.True(reader.GetInt64(0) >= 20);
            Assert.True(reader.GetInt64(1) >= 210);
        }

        var log = Assert.Single(services.GetFakeLogCollector().GetSnapshot(), r => r.Id.Id == 2004);
        Assert.Contains("as role scaleops_rls_bypass for: nightly usage report", log.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_superuser_a_role_without_bypassrls_or_no_role_at_all_is_refused()
    {
        await using (var services = Services(database.AppConnectionString(), database.ConnectionString))
        {
            var ex = await Assert.ThrowsAsync<InvalidOperationException>(() => services.GetRequiredService<RlsBypass>().OpenConnectionAsync("x"));
            Assert.Contains("connects as postgres, a superuser", ex.Message, StringComparison.Ordinal);
        }

        await using (var services = Services(database.AppConnectionString(), database.AppConnectionString()))
        {
            var ex = await Assert.ThrowsAsync<InvalidOperationException>(() => services.GetRequiredService<RlsBypass>().OpenConnectionAsync("x"));
            Assert.Contains("lacks BYPASSRLS", ex.Message, StringComparison.Ordinal);
        }

        await using (var services = Services(database.AppConnectionString(), null))
        {
            var bypass = services.GetRequiredService<RlsBypass>();
            var ex = await Assert.ThrowsAsync<InvalidOperationException>(() => bypass.OpenConnectionAsync("x"));
            Assert.Contains("set ScaleOps:Rls:BypassConnectionString", ex.Message, StringComparison.Ordinal);
            await Assert.ThrowsAsync<ArgumentException>(() => bypass.OpenConnectionAsync(" "));
        }
    }
}
