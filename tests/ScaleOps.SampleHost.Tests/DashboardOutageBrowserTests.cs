using System;
using System.IO;
using System.Linq;
using System.Net.Http;
using System.Net.Http.Json;
using System.Text.Json;
using System.Threading.Tasks;
using OpenQA.Selenium;
using OpenQA.Selenium.Support.UI;
using ScaleOps.TestInfrastructure;

namespace ScaleOps.SampleHost.Tests;

/// <summary>The host on a loopback port with a private redis-server that the test stops (never the shared one).</summary>
public sealed class KestrelPrivateRedisFixture : KestrelSampleHostFixture
{
    protected override bool UsePrivateRedis => true;
}

public class DashboardOutageBrowserTests(KestrelPrivateRedisFixture host) : IClassFixture<KestrelPrivateRedisFixture>
{
    private async Task<string> RedisHealthAsync(HttpClient client)
    {
        using var response = await client.GetAsync("/ops/health");
        var body = await response.Content.ReadFromJsonAsync<JsonElement>();
        return body.GetProperty("checks").GetProperty("redis").GetProperty("status").GetString()!;
    }

    [Fact]
    public async Task With_redis_down_the_dashboard_still_renders_and_says_that_redis_is_down()
    {
        var tenant = await host.RegisterTenantAsync("dash-outage");
        using var client = new HttpClient { BaseAddress = host.BaseAddress };
        client.DefaultRequestHeaders.Add("X-Tenant-Id", tenant);
        await TestSignal.UntilAsync(async () => await RedisHealthAsync(client) == "Healthy", "Redis to be healthy before the outage");

        await host.Redis!.StopAsync();
        await TestSignal.UntilAsync(async () =>
        {
            using (await client.GetAsync("/documents?limit=5"))
            {
            }

            return await RedisHealthAsync(client) == "Degraded";
        }, "the cache to report Redis down");

        var profile = Directory.CreateTempSubdirectory("scaleops-chromium-");
        try
        {
            using var browser = Chromium.Start(profile.FullName);
            var wait = new WebDriverWait(browser, TimeSpan.FromSeconds(30));
            wait.IgnoreExceptionTypes(typeof(StaleElementReferenceException));
            browser.Navigate().GoToUrl(new Uri(host.BaseAddress, "/ops"));
            browser.FindElement(By.Id("admin-key")).SendKeys(SampleHostFixture.AdminKey);
            browser.FindElement(By.CssSelector("#key-form button[type=submit]")).Click();
            wait.Until(d => d.FindElement(By.Id("status")).GetAttribute("data-loaded") is "true" or "false");

            // The page names the dependency that is down, with the check's own description, and still shows the rest.
            wait.Message = "a row for redis in the dashboard's #health table";
            var redis = wait.Until(d => d.FindElements(By.CssSelector("#health tbody tr"))
                .Select(r => r.FindElements(By.TagName("td")).Select(c => c.Text).ToList())
                .FirstOrDefault(c => c.Count >= 3 && c[0] == "redis"));
            Assert.Equal("Degraded", redis[1]);
            Assert.Contains("Redis is unavailable", redis[2], StringComparison.Ordinal);
            Assert.Contains("Degraded", browser.FindElement(By.Id("status")).Text, StringComparison.Ordinal);
            Assert.Contains(browser.FindElements(By.CssSelector("#partitions tbody tr")),
                r => r.FindElements(By.TagName("td"))[0].Text == "\"scaleops\".\"audit_log\"");
            Assert.Equal("true", browser.FindElement(By.Id("status")).GetAttribute("data-loaded"));
        }
        finally
        {
            profile.Delete(recursive: true);
            await host.Redis.RestartAsync();
        }
    }
}
