using System;
using System.Linq;
using System.Threading.Tasks;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;
using ScaleOps.Rls.Tests.Support;
using ScaleOps.TestInfrastructure;

namespace ScaleOps.Rls.Tests.Safety;

/// <summary>The start-up's log events (README: event ids 2001-2008): 2001, 2002, 2003 and 2007.</summary>
public class StartupLogEventTests(RlsDatabase database) : IClassFixture<RlsDatabase>
{
    private IHost BuildHost()
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Services.AddFakeLogging();
        builder.Logging.SetMinimumLevel(LogLevel.Debug);
        builder.Services.AddScaleOps(o =>
        {
            o.ConnectionString = database.ConnectionString; // the superuser, which owns the tables and applies the policies
            o.ApplyMigrationsOnStart = false;
        }).AddRls(o =>
        {
            o.Tables.Add(new RlsTable("public", "logged_docs"));
            o.AllowBypassRlsRole = true;
        });
        return builder.Build();
    }

    [Fact]
    public async Task Start_up_logs_policy_changes_as_2001_up_to_date_policies_as_2002_safety_warnings_as_2003_and_an_allowed_bypass_role_as_2007()
    {
        await PostgresServer.ExecuteAsync("CREATE TABLE logged_docs (tenant_id text NOT NULL, body text NOT NULL)", database.Name); // no index

        using (var host = BuildHost())
        {
            await host.StartAsync();
            await host.StopAsync();
            var logs = host.Services.GetFakeLogCollector().GetSnapshot().Where(FromRls).ToList();
            Assert.Contains(logs, r => r.Id.Id == 2001 && r.Level == LogLevel.Information && r.Message.StartsWith("RLS: ", StringComparison.Ordinal)
                && r.Message.Contains("logged_docs", StringComparison.Ordinal));
            Assert.Contains(logs, r => r.Id.Id == 2003 && r.Level == LogLevel.Warning
                && r.Message.StartsWith("RLS safety check: table logged_docs has no index leading with tenant_id", StringComparison.Ordinal));
            Assert.Contains(logs, r => r.Id.Id == 2007 && r.Level == LogLevel.Warning
                && r.Message.Contains("The database role postgres bypasses row-level security (SUPERUSER)", StringComparison.Ordinal));
            Assert.DoesNotContain(logs, r => r.Id.Id == 2002);
        }

        using (var again = BuildHost())
        {
            await again.StartAsync();
            await again.StopAsync();
            var logs = again.Services.GetFakeLogCollector().GetSnapshot().Where(FromRls).ToList();
            Assert.Contains(logs, r => r.Id.Id == 2002 && r.Level == LogLevel.Debug && r.Message == "RLS policies of 1 tables are up to date");
            Assert.DoesNotContain(logs, r => r.Id.Id == 2001);
        }
    }

    // Npgsql's own log events reuse some of these ids (2002 is one of its command events).
    private static bool FromRls(FakeLogRecord record) => record.Category?.StartsWith("ScaleOps.Rls", StringComparison.Ordinal) == true;
}
