using System.Diagnostics;
using System.Reflection;
using MLNet.Bayesian.Data;

namespace MLNet.Bayesian.Tests.Cli;

/// <summary>The command-line tool end to end on a small image folder, as a user runs it.</summary>
[TestClass]
public sealed class CliTests
{
    static string _root = "", _zip = "";

    static (int Code, string Output) Run(params string[] args)
    {
        string directory = typeof(CliTests).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>().Single(a => a.Key == "CliDirectory").Value!;
        string tool = Path.Combine(directory, "MLNet.Bayesian.Cli.dll");
        Assert.IsTrue(File.Exists(tool), $"the CLI was built at {tool}");
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        start.ArgumentList.Add(tool);
        foreach (string a in args) start.ArgumentList.Add(a);
        start.Environment["COLUMNS"] = "200";
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        string stderr = process.StandardError.ReadToEnd();
        Assert.IsTrue(process.WaitForExit(300_000), "the CLI finished");
        return (process.ExitCode, stdout.Result + stderr);
    }

    [ClassInitialize]
    public static void Train(TestContext _)
    {
        _root = TestData.TempFolder();
        ImageFolder.Write(TestData.Train.StratifiedHead(30), Path.Combine(_root, "train"));
        ImageFolder.Write(TestData.Test.StratifiedHead(5), Path.Combine(_root, "test"));
        var digits = DigitsCsvReader.ReadResized(TestData.DigitsCsv, 28);
        ImageFolder.Write(digits.StratifiedHead(3), Path.Combine(_root, "ood"));
        _zip = Path.Combine(_root, "model.zip");
        var (code, output) = Run("train", "--data", Path.Combine(_root, "train"), "--out", _zip, "--epochs", "2,1,1", "--samples", "4", "--kl-weight", "0.1");
        Assert.AreEqual(0, code, output);
        StringAssert.Contains(output, "validation accuracy");
        StringAssert.Contains(output, "review rule");
        Assert.IsTrue(File.Exists(_zip));
    }

    [TestMethod]
    public void EvaluateWritesMetricsAndPlots()
    {
        string report = Path.Combine(_root, "report");
        var (code, output) = Run("evaluate", "--model", _zip, "--data", Path.Combine(_root, "test"), "--ood", Path.Combine(_root, "ood"), "--report", report);
        Assert.AreEqual(0, code, output);
        StringAssert.Contains(output, "OOD by MutualInformation: AUROC");
        foreach (string file in new[] { "metrics.json", "reliability.png", "risk_coverage.png", "uncertainty_histogram.png" })
        {
            var info = new FileInfo(Path.Combine(report, file));
            Assert.IsTrue(info.Exists && info.Length > 1000, $"{file} exists and is not empty");
        }
        foreach (string png in Directory.GetFiles(report, "*.png"))
            CollectionAssert.AreEqual(new byte[] { 0x89, 0x50, 0x4e, 0x47 }, File.ReadAllBytes(png)[..4], $"{png} is a PNG");
        using var json = System.Text.Json.JsonDocument.Parse(File.ReadAllText(Path.Combine(report, "metrics.json")));
        Assert.AreEqual(50, json.RootElement.GetProperty("images").GetInt32());
        Assert.IsTrue(json.RootElement.GetProperty("ood").GetProperty("MutualInformation").GetProperty("Auroc").GetDouble() is >= 0 and <= 1);
    }

    [TestMethod]
    public void ScoreWritesOneRowPerImageFlagsErrorsAndResumes()
    {
        string images = Path.Combine(_root, "incoming");
        ImageFolder.Write(TestData.Test.StratifiedHead(1), images);
        File.WriteAllText(Path.Combine(images, "not-an-image.png"), "this is text");
        int imageCount = Directory.GetFiles(images, "*.png", SearchOption.AllDirectories).Length;
        string csv = Path.Combine(_root, "predictions.csv");

        var (code, output) = Run("score", "--model", _zip, "--images", images, "--out", csv);
        Assert.AreEqual(1, code, $"a failed row makes the exit code 1: {output}");
        var lines = File.ReadAllLines(csv);
        Assert.AreEqual(imageCount + 1, lines.Length, "header + one row per image");
        StringAssert.StartsWith(lines[0], "path,predicted_label,confidence,predictive_entropy,expected_entropy,mutual_information,needs_review,p_");
        var error = lines.Single(l => l.StartsWith("not-an-image.png"));
        StringAssert.Contains(error, "is not an image this library reads");
        Assert.AreEqual(lines[0].Split(',').Length, error.Split(',').Length, "error rows have every column");
        foreach (string line in lines.Skip(1).Where(l => !l.StartsWith("not-an-image")))
        {
            var fields = line.Split(',');
            Assert.IsTrue(fields[6] is "true" or "false", "needs_review from the stored rule");
            Assert.AreEqual(1.0, fields.Skip(7).Take(10).Sum(v => double.Parse(v, System.Globalization.CultureInfo.InvariantCulture)), 1e-3);
        }

        File.Copy(Path.Combine(images, "Bag", Directory.GetFiles(Path.Combine(images, "Bag"))[0]), Path.Combine(images, "Bag", "late-arrival.png"));
        (code, output) = Run("score", "--model", _zip, "--images", images, "--out", csv);
        StringAssert.Contains(output, "scored 1,");
        var resumed = File.ReadAllLines(csv);
        Assert.AreEqual(imageCount + 2, resumed.Length, "the second run adds only the new image");
        Assert.AreEqual(resumed.Skip(1).Select(l => l.Split(',')[0]).Distinct().Count(), resumed.Length - 1, "no path twice");
        Assert.AreEqual(1, code, "the earlier error row still counts");
    }

    [TestMethod]
    public void BadArgumentsGiveAClearMessage()
    {
        var (code, output) = Run("score", "--model", Path.Combine(_root, "missing.zip"), "--images", _root);
        Assert.AreNotEqual(0, code);
        StringAssert.Contains(output, "missing.zip");
        (code, output) = Run("--help");
        Assert.AreEqual(0, code);
        StringAssert.Contains(output, "train");
        StringAssert.Contains(output, "score");
    }
}
