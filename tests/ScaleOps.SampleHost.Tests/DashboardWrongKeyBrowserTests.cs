using System;
using System.IO;
using OpenQA.Selenium;
using OpenQA.Selenium.Support.UI;

namespace ScaleOps.SampleHost.Tests;

/// <summary>The dashboard with a mistyped key: each load spends one unit of the address's wrong-key budget, not one per section.</summary>
public class DashboardWrongKeyBrowserTests(DashboardBrowserFixture host) : IClassFixture<DashboardBrowserFixture>
{
    [Fact]
    public void Five_loads_with_a_wrong_key_are_five_401s_and_the_right_key_then_loads_the_page()
    {
        var profile = Directory.CreateTempSubdirectory("scaleops-chromium-");
        try
        {
            using var browser = Chromium.Start(profile.FullName);
            var wait = new WebDriverWait(browser, TimeSpan.FromSeconds(30));
            wait.IgnoreExceptionTypes(typeof(StaleElementReferenceException));
            browser.Navigate().GoToUrl(new Uri(host.BaseAddress, "/ops"));
            var key = browser.FindElement(By.Id("admin-key"));
            var load = browser.FindElement(By.CssSelector("#key-form button[type=submit]"));
            var status = browser.FindElement(By.Id("status"));
            key.SendKeys("a-mistyped-admin-key");
            for (var attempt = 1; attempt <= 5; attempt++)
            {
                ((IJavaScriptExecutor)browser).ExecuteScript("document.getElementById('status').textContent = ''; delete document.getElementById('status').dataset.loaded;");
                load.Click();
                wait.Message = $"load {attempt} with the wrong key to end";
                wait.Until(_ => status.GetAttribute("data-loaded") == "false");
                // The budget is 10 wrong keys a minute: at one per load, the fifth is still refused as a wrong key.
                Assert.Equal("Could not load: GET /ops/jobs: 401", status.Text);
            }

            key.Clear();
            key.SendKeys(SampleHostFixture.AdminKey);
            load.Click();
            wait.Message = "the page to load with the right key";
            wait.Until(_ => status.GetAttribute("data-loaded") == "true");
        }
        finally
        {
            profile.Delete(recursive: true);
        }
    }
}
