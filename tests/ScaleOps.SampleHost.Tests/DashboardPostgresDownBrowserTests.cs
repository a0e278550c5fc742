using System;
using System.IO;
using System.Linq;
using System.Net;
using System.Net.Http;
using System.Threading.Tasks;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using OpenQA.Selenium;
using OpenQA.Selenium.Support.UI;
using ScaleOps.TestInfrastructure;

namespace ScaleOps.SampleHost.Tests;

/// <summary>The host on a loopback port, reaching PostgreSQL through a proxy that the test makes refuse connections.</summary>
public sealed class KestrelPostgresProxyFixture : KestrelSampleHostFixture
{
    private FaultyTcpProxy? _proxy;

    public FaultyTcpProxy Proxy => _proxy ?? throw new InvalidOperationException("The fixture is not initialized.");

    protected override void ConfigureInstance(IWebHostBuilder web)
    {
        var direct = new NpgsqlConnectionStringBuilder(ConnectionString) { Username = AppRole };
        _proxy ??= new FaultyTcpProxy(direct.Host!, direct.Port, FaultyTcpProxy.ProxyMode.Forward);
        direct.Host = "127.0.0.1";
        direct.Port = _proxy.Port;
        web.UseSetting("ConnectionStrings:Postgres", direct.ToString());
        web.UseSetting("Sample:RunJobs", "false");
        web.UseSetting("Sample:RunPartitionMaintenance", "false");
    }

    public override async Task DisposeAsync()
    {
        if (_proxy is not null)
        {
            _proxy.Mode = FaultyTcpProxy.ProxyMode.Forward;
        }

        await base.DisposeAsync();
        if (_proxy is not null)
        {
            await _proxy.DisposeAsync();
        }
    }
}

public class DashboardPostgresDownBrowserTests(KestrelPostgresProxyFixture host) : IClassFixture<KestrelPostgresProxyFixture>
{
    [Fact]
    public async Task With_postgres_down_the_dashboard_shows_the_health_report_and_names_the_sections_it_could_not_load()
    {
        using var client = new HttpClient { BaseAddress = host.BaseAddress };
        using (var healthy = await client.GetAsync("/ops/health"))
        {
            Assert.Equal(HttpStatusCode.OK, healthy.StatusCode);
        }

        host.Proxy.Mode = FaultyTcpProxy.ProxyMode.Refuse;
        var dataSource = host.Factory.Services.GetRequiredService<NpgsqlDataSource>();
        await TestSignal.UntilAsync(async () =>
        {
            dataSource.Clear(); // idle pooled connections still reach the server; new ones are refused
            using var health = await client.GetAsync("/ops/health");
            return health.StatusCode == HttpStatusCode.ServiceUnavailable;
        }, "the health report to say PostgreSQL is down (503)");

        var profile = Directory.CreateTempSubdirectory("scaleops-chromium-");
        try
        {
            using var browser = Chromium.Start(profile.FullName);
            var wait = new WebDriverWait(browser, TimeSpan.FromSeconds(60)) { Message = "a row for postgres in the dashboard's #health table" };
            wait.IgnoreExceptionTypes(typeof(StaleElementReferenceException));
            browser.Navigate().GoToUrl(new Uri(host.BaseAddress, "/ops"));
            browser.FindElement(By.Id("admin-key")).SendKeys(SampleHostFixture.AdminKey);
            browser.FindElement(By.CssSelector("#key-form button[type=submit]")).Click();
            wait.Until(d => d.FindElement(By.Id("status")).GetAttribute("data-loaded") is "true" or "false");

            var postgres = wait.Until(d => d.FindElements(By.CssSelector("#health tbody tr"))
                .Select(r => r.FindElements(By.TagName("td")).Select(c => c.Text).ToList())
                .FirstOrDefault(c => c.Count >= 3 && c[0] == "postgres"));
            Assert.Equal("Unhealthy", postgres[1]);
            var status = browser.FindElement(By.Id("status"));
            Assert.Equal("false", status.GetAttribute("data-loaded"));
            Assert.Contains("GET /ops/jobs: 500", status.Text, StringComparison.Ordinal);
            Assert.Contains("Health: Unhealthy (postgres Unhealthy)", status.Text, StringComparison.Ordinal);
        }
        finally
        {
            profile.Delete(recursive: true);
            host.Proxy.Mode = FaultyTcpProxy.ProxyMode.Forward;
        }
    }
}
