using System.Diagnostics;
using OpenQA.Selenium;
using OpenQA.Selenium.Chrome;
using OpenQA.Selenium.Interactions;

namespace MLNet.Bayesian.Tests.Cli;

/// <summary>
/// The review page in a real browser: Debian's headless Chromium, driven through its chromedriver by Selenium, against
/// the <c>review</c> command running as its own process. A person reviews rows by keyboard and by mouse; then the server
/// is killed and the browser closed, and a new server and a new browser show every decision as done, as the file holds it.
/// </summary>
[TestClass]
public sealed class ReviewPageTests
{
    const string Chromium = "/usr/bin/chromium", ChromeDriver = "/usr/bin/chromedriver";

    public TestContext TestContext { get; set; } = null!;

    [TestMethod]
    public void DecisionsMadeByKeyboardAndMouseSurviveAKilledServerAndBrowser()
    {
        Assert.IsTrue(File.Exists(Chromium) && File.Exists(ChromeDriver),
            $"the browser test needs Debian's chromium and chromium-driver ({Chromium}, {ChromeDriver}): apt install chromium chromium-driver (eng/install-prerequisites.sh does)");
        string csv = ReviewData.FreshCsv();
        var classes = ReviewData.Classes;
        var expected = new Dictionary<string, (string Decision, string Label)>();
        int flagged;

        using (var server = new ReviewServerProcess(ReviewData.Model, csv, ReviewData.Images, "--reviewer", "tester"))
        using (var browser = Browser())
        {
            browser.Navigate().GoToUrl(server.Url);
            flagged = Progress(browser).Total;
            Assert.IsTrue(flagged >= 4, $"the stored rule flags at least 4 of the scored rows, to review: {flagged}");
            Assert.AreEqual(0, Progress(browser).Done);
            Assert.AreEqual(flagged, browser.FindElements(By.CssSelector("#items li")).Count, "the list shows the flagged rows");
            AssertMostUncertainFirst(browser);

            // Keyboard: Enter accepts the model's class.
            var (path, predicted) = Current(browser);
            Assert.IsTrue(browser.FindElements(By.CssSelector("#reasons tbody tr")).Count >= 1, "why it was flagged: a line per score of the rule");
            Assert.IsTrue(browser.FindElements(By.CssSelector("#probabilities tr")).Count >= 2, "the top classes");
            new Actions(browser).SendKeys(Keys.Enter).Perform();
            expected[path] = ("accept", predicted);
            WaitForDone(browser, 1);

            // Mouse: another class's button.
            (path, predicted) = Current(browser);
            string other = classes.First(c => c != predicted);
            browser.FindElement(By.CssSelector($"button.class-choice[data-label='{other}']")).Click();
            expected[path] = ("relabel", other);
            WaitForDone(browser, 2);

            // Keyboard: U marks it unknown, 2 picks the second class.
            (path, _) = Current(browser);
            new Actions(browser).SendKeys("u").Perform();
            expected[path] = ("unknown", "");
            WaitForDone(browser, 3);
            (path, predicted) = Current(browser);
            new Actions(browser).SendKeys("2").Perform();
            expected[path] = (classes[1] == predicted ? "accept" : "relabel", classes[1]);
            WaitForDone(browser, 4);
            Screenshot(browser, "review-page.png");

            // The rest by keyboard, timed: Enter, wait for the count, as a person working fast would.
            var clock = Stopwatch.StartNew();
            int keyboard = Math.Min(flagged, 104) - 4;
            for (int i = 0; i < keyboard; i++)
            {
                (path, predicted) = Current(browser);
                new Actions(browser).SendKeys(Keys.Enter).Perform();
                expected[path] = ("accept", predicted);
                WaitForDone(browser, 5 + i);
            }
            TestContext.WriteLine($"reviewed {keyboard} rows by keyboard in {clock.Elapsed.TotalSeconds:F1} s ({clock.Elapsed.TotalMilliseconds / Math.Max(keyboard, 1):F0} ms each)");
        }

        // Killed server, closed browser: a new server on another port and a new browser session.
        using (var server = new ReviewServerProcess(ReviewData.Model, csv, ReviewData.Images))
        using (var browser = Browser())
        {
            StringAssert.Contains(server.Output, $"{expected.Count} done", "the restarted server counts the saved decisions");
            browser.Navigate().GoToUrl(server.Url);
            Assert.AreEqual((expected.Count, flagged), (Progress(browser).Done, Progress(browser).Total));
            // The list read in one script call: a WebDriver round trip per row and field took minutes at 100 rows.
            var shown = ((IJavaScriptExecutor)browser).ExecuteScript(
                    "return [...document.querySelectorAll('#items li')].map(li => [li.querySelector('.path').innerText, li.className, li.querySelector('.mark').innerText]);")
                as IReadOnlyCollection<object> ?? throw new AssertFailedException("the list could not be read");
            var rows = shown.Cast<IReadOnlyCollection<object>>().Select(r => r.Cast<string>().ToArray()).ToDictionary(r => r[0].Trim(), r => (Class: r[1], Mark: r[2]));
            Assert.AreEqual(flagged, rows.Count, "every flagged row is listed, once");
            foreach (var (path, (decision, label)) in expected)
            {
                Assert.IsTrue(rows.TryGetValue(path, out var row), $"{path} is listed");
                StringAssert.Contains(row.Class, "done", path);
                StringAssert.Contains(row.Mark, decision == "unknown" ? "unknown" : label, $"{path} shows its decision");
            }
        }

        var lines = File.ReadAllLines(Path.ChangeExtension(csv, null) + ".decisions.csv");
        Assert.AreEqual("path,image,decision,label,predicted_label,flagged,reviewer,decided_at", lines[0]);
        var saved = lines.Skip(1).Select(CliTool.Fields).GroupBy(f => f[0]).ToDictionary(g => g.Key, g => g.Last());
        Assert.AreEqual(expected.Count, saved.Count, "one decision per reviewed row in the file");
        foreach (var (path, (decision, label)) in expected)
        {
            Assert.AreEqual(decision, saved[path][2], path);
            Assert.AreEqual(label, saved[path][3], path);
            Assert.AreEqual("tester", saved[path][6], "the reviewer named on the command line");
            Assert.AreEqual("true", saved[path][5], "a flagged row");
            Assert.IsTrue(File.Exists(saved[path][1]), "the image's absolute path, for train --reviewed");
        }
    }

    static ChromeDriver Browser()
    {
        var service = ChromeDriverService.CreateDefaultService(Path.GetDirectoryName(ChromeDriver)!, Path.GetFileName(ChromeDriver));
        service.SuppressInitialDiagnosticInformation = true;
        service.HideCommandPromptWindow = true;
        var options = new ChromeOptions { BinaryLocation = Chromium };
        // --no-sandbox: CI runs as root, where Chromium's sandbox cannot start.
        options.AddArguments("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", "--window-size=1280,860");
        return new ChromeDriver(service, options, TimeSpan.FromSeconds(90));
    }

    static (int Done, int Total) Progress(IWebDriver browser)
    {
        string text = "";
        Until(browser, () => (text = browser.FindElement(By.Id("progress")).Text).EndsWith(" done", StringComparison.Ordinal), "the progress line");
        var parts = text.Split(' ');
        return (int.Parse(parts[0]), int.Parse(parts[2]));
    }

    static (string Path, string Predicted) Current(IWebDriver browser)
    {
        Until(browser, () => browser.FindElements(By.Id("current-path")).Count == 1 && browser.FindElement(By.Id("decision-state")).Text == "not decided yet",
            "an undecided row on show");
        return (browser.FindElement(By.Id("current-path")).Text, browser.FindElement(By.Id("predicted")).Text);
    }

    static void WaitForDone(IWebDriver browser, int done)
        => Until(browser, () => browser.FindElement(By.Id("progress")).Text.StartsWith($"{done} of ", StringComparison.Ordinal), $"{done} done");

    static void AssertMostUncertainFirst(IWebDriver browser)
    {
        var values = browser.FindElements(By.CssSelector("#items li .meta")).Select(m => m.Text.Split("uncertainty ")[1])
            .Where(v => v != "n/a").Select(v => double.Parse(v, System.Globalization.CultureInfo.InvariantCulture)).ToList();
        for (int i = 1; i < values.Count; i++) Assert.IsTrue(values[i] <= values[i - 1] + 1e-9, $"most uncertain first: {string.Join(", ", values)}");
    }

    static void Until(IWebDriver browser, Func<bool> condition, string what)
    {
        var clock = Stopwatch.StartNew();
        Exception? last = null;
        while (clock.Elapsed < TimeSpan.FromSeconds(30))
        {
            try { if (condition()) return; }
            catch (WebDriverException e) { last = e; }
            Thread.Sleep(20);
        }
        string error = browser.FindElements(By.Id("error")).FirstOrDefault()?.Text ?? "";
        Assert.Fail($"waited 30 s for {what}; the page's error line: '{error}'{(last is null ? "" : $"; last: {last.Message}")}");
    }

    void Screenshot(ITakesScreenshot browser, string name)
    {
        string folder = Environment.GetEnvironmentVariable("MLNET_BAYESIAN_SCREENSHOTS") is { Length: > 0 } f ? f : TestContext.TestRunResultsDirectory ?? Path.GetTempPath();
        Directory.CreateDirectory(folder);
        string file = Path.Combine(folder, name);
        browser.GetScreenshot().SaveAsFile(file);
        TestContext.AddResultFile(file);
    }
}
