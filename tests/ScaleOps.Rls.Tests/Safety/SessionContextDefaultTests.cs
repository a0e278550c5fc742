using System;
using System.Threading.Tasks;
using Microsoft.Extensions.Hosting;
using Npgsql;
using ScaleOps.Rls.Safety;
using ScaleOps.Rls.Tests.Support;
using ScaleOps.TestInfrastructure;

namespace ScaleOps.Rls.Tests.Safety;

/// <summary>
/// The policies are fail-closed only while a session starts without a context: the context is set transaction-locally,
/// and at the end of every transaction it falls back to the session's own value. A session default (the connection
/// string's <c>Options=-c app.tenant_id=...</c>, <c>PGOPTIONS</c>, <c>ALTER ROLE</c> or <c>ALTER DATABASE ... SET</c>)
/// makes every statement sent without the context run as that tenant, user or role instead of seeing no row.
/// </summary>
public class SessionContextDefaultTests(RlsDatabase database) : IClassFixture<RlsDatabase>
{
    private static IHost BuildHost(string connectionString) => RlsHosts.Checked(connectionString);

    private string WithSessionDefault(string setting, string value) =>
        new NpgsqlConnectionStringBuilder(database.AppConnectionString()) { Options = $"-c {setting}={value}", Pooling = false }.ToString();

    [Fact]
    public async Task A_statement_without_the_context_runs_as_the_sessions_default_tenant()
    {
        // Why the start must refuse it: with the default, a statement outside tenant work reads tenant t03's rows.
        await using var dataSource = NpgsqlDataSource.Create(WithSessionDefault("app.tenant_id", "t03"));
        await using var command = dataSource.CreateCommand("SELECT count(*) FROM documents");
        Assert.Equal(3L, await command.ExecuteScalarAsync());
    }

    [Theory]
    [InlineData("app.tenant_id", "t03")]
    [InlineData("app.user_id", "alice")]
    [InlineData("app.roles", "{auditor}")]
    public async Task A_session_that_starts_with_a_context_setting_refuses_the_start(string setting, string value)
    {
        using var host = BuildHost(WithSessionDefault(setting, value));
        var ex = await Assert.ThrowsAsync<RlsSafetyException>(() => host.StartAsync());
        var problem = Assert.Single(ex.Problems);
        Assert.Contains($"{setting} = '{value}'", problem, StringComparison.Ordinal);
        Assert.Contains($"ALTER ROLE {RlsDatabase.AppRole} RESET {setting}", problem, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_session_default_of_no_roles_starts()
    {
        // '{}' holds no role: no policy grants anything by it, so it is no context to refuse.
        using var host = BuildHost(WithSessionDefault("app.roles", "{}"));
        await host.StartAsync();
        await host.StopAsync();
    }
}
