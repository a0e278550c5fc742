using System;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Threading.Tasks;
using OpenQA.Selenium;
using OpenQA.Selenium.Support.UI;

namespace ScaleOps.SampleHost.Tests;

/// <summary>Every figure the dashboard shows for a queue, checked against the jobs table itself.</summary>
public class DashboardFiguresBrowserTests(DashboardBrowserFixture host) : IClassFixture<DashboardBrowserFixture>
{
    private const string Queue = "figures";

    private async Task InsertAsync(int count, string state, string runAt, string? leaseUntil = null)
    {
        // A queue this host does not work: the rows stay as written while the page reads them.
        await using var command = host.DataSource.CreateCommand(
            "INSERT INTO scaleops.jobs (queue, kind, tenant_id, payload, state, run_at, attempt, max_attempts, created_at, finished_at, lease_until, last_error) "
            + $"SELECT $1, 'test.figures', 'figures-tenant', '{{}}', $2, now() + $3::interval, CASE WHEN $2 = 'pending' THEN 0 ELSE 1 END, 1, "
            // Enqueued 5 minutes before it was due (or now, if that is earlier): a job waits from the later of the two.
            + "least(now(), now() + $3::interval - interval '5 minutes'), "
            + "CASE WHEN $2 IN ('succeeded', 'dead', 'cancelled') THEN now() - make_interval(secs => g) END, now() + $4::interval, "
            + "CASE WHEN $2 = 'dead' THEN 'failed #' || g END FROM generate_series(1, $5) g");
        command.Parameters.AddWithValue(Queue);
        command.Parameters.AddWithValue(state);
        command.Parameters.AddWithValue(runAt);
        command.Parameters.AddWithValue((object?)leaseUntil ?? DBNull.Value);
        command.Parameters.AddWithValue(count);
        await command.ExecuteNonQueryAsync();
    }

    [Fact]
    public async Task The_queue_figures_and_the_dead_job_count_are_those_of_the_jobs_table()
    {
        await InsertAsync(2, "pending", "-5 minutes");
        await InsertAsync(3, "pending", "1 hour");
        await InsertAsync(1, "running", "-1 minute", "1 hour");
        await InsertAsync(4, "succeeded", "-1 minute");
        await InsertAsync(105, "dead", "-1 minute"); // more than the page lists
        await InsertAsync(1, "cancelled", "-1 minute");

        long[] expected;
        await using (var command = host.DataSource.CreateCommand(
            "SELECT count(*) FILTER (WHERE state = 'pending' AND run_at <= now()), count(*) FILTER (WHERE state = 'pending' AND run_at > now()), "
            + "count(*) FILTER (WHERE state = 'running'), count(*) FILTER (WHERE state = 'succeeded'), count(*) FILTER (WHERE state = 'dead') "
            + "FROM scaleops.jobs WHERE queue = $1"))
        {
            command.Parameters.AddWithValue(Queue);
            await using var reader = await command.ExecuteReaderAsync();
            await reader.ReadAsync();
            expected = [.. Enumerable.Range(0, 5).Select(reader.GetInt64)];
        }

        var profile = Directory.CreateTempSubdirectory("scaleops-chromium-");
        try
        {
            using var browser = Chromium.Start(profile.FullName);
            var wait = new WebDriverWait(browser, TimeSpan.FromSeconds(30)) { Message = "the figures queue's row on the dashboard" };
            wait.IgnoreExceptionTypes(typeof(StaleElementReferenceException));
            browser.Navigate().GoToUrl(new Uri(host.BaseAddress, "/ops"));
            browser.FindElement(By.Id("admin-key")).SendKeys(SampleHostFixture.AdminKey);
            browser.FindElement(By.CssSelector("#key-form button[type=submit]")).Click();
            var cells = wait.Until(d => d.FindElements(By.CssSelector("#queues tbody tr"))
                .Select(r => r.FindElements(By.TagName("td")).Select(c => c.Text).ToList())
                .FirstOrDefault(c => c.Count >= 7 && c[0] == Queue));
            Assert.Equal(expected, cells.Skip(1).Take(5).Select(c => long.Parse(c, CultureInfo.InvariantCulture)));
            var oldestWait = double.Parse(cells[6], CultureInfo.InvariantCulture);
            Assert.InRange(oldestWait, 300, 3600);

            // The page lists the newest dead jobs only; the count it states is the table's, not the length of its list.
            var status = browser.FindElement(By.Id("status")).Text;
            Assert.Contains($"{expected[4]} dead job(s)", status, StringComparison.Ordinal);
            var listed = browser.FindElements(By.CssSelector("#dead-jobs tbody tr")).Count;
            Assert.True(listed < expected[4], $"{listed} dead jobs listed");
            Assert.Contains($"newest {listed} of {expected[4]}", browser.FindElement(By.Id("dead-jobs-note")).Text, StringComparison.Ordinal);
        }
        finally
        {
            profile.Delete(recursive: true);
        }
    }
}
