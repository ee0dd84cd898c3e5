using System.Diagnostics;
using Microsoft.ML;
using MLNet.Bayesian.MLNetIntegration;
using System.Reflection;
using MLNet.Bayesian.Data;
using MLNet.Bayesian.Uncertainty;
using SavedModel = MLNet.Bayesian.Persistence.BayesianModel;

namespace MLNet.Bayesian.Tests.Cli;

/// <summary>The command-line tool end to end on a small image folder, as a user runs it.</summary>
[TestClass]
public sealed class CliTests
{
    static string Root => CliTool.Root;
    static string Zip => CliTool.Model;

    static Process Start(params string[] args) => CliTool.Start(args);
    static (int Code, string Output) Run(params string[] args) => CliTool.Run(args);
    static List<string> Fields(string line) => CliTool.Fields(line);
    static Dictionary<string, string> RowsByPath(string csv) => CliTool.RowsByPath(csv);
    static string Incoming(string name, int perClass) => CliTool.Incoming(name, perClass);

    [ClassInitialize]
    public static void Train(TestContext _) => Assert.IsTrue(File.Exists(CliTool.Model));

    [TestMethod]
    public void EvaluateWritesMetricsAndPlots()
    {
        string report = Path.Combine(Root, "report");
        var (code, output) = Run("evaluate", "--model", Zip, "--data", Path.Combine(Root, "test"), "--ood", Path.Combine(Root, "ood"), "--report", report);
        Assert.AreEqual(0, code, output);
        StringAssert.Contains(output, "OOD by MutualInformation: AUROC");
        StringAssert.Contains(output, "OOD by PredictiveEntropy: AUROC");
        StringAssert.Contains(output, "out of distribution: ood, 30 images");
        foreach (string file in new[] { "metrics.json", "reliability.png", "risk_coverage.png", "histogram_confidence.png", "histogram_predictive_entropy.png",
                     "histogram_expected_entropy.png", "histogram_mutual_information.png" })
        {
            var info = new FileInfo(Path.Combine(report, file));
            Assert.IsTrue(info.Exists && info.Length > 1000, $"{file} exists and is not empty");
        }
        foreach (string png in Directory.GetFiles(report, "*.png"))
            CollectionAssert.AreEqual(new byte[] { 0x89, 0x50, 0x4e, 0x47 }, File.ReadAllBytes(png)[..4], $"{png} is a PNG");
        using var json = System.Text.Json.JsonDocument.Parse(File.ReadAllText(Path.Combine(report, "metrics.json")));
        Assert.AreEqual(50, json.RootElement.GetProperty("images").GetInt32());
        Assert.IsTrue(json.RootElement.GetProperty("ood").GetProperty("MutualInformation").GetProperty("Auroc").GetDouble() is >= 0 and <= 1);

        // Every score's AUROC and the stored rule's, its flagged share of the OOD set and what it keeps of the test set.
        var auroc = json.RootElement.GetProperty("ood_auroc");
        foreach (string key in new[] { "Confidence", "PredictiveEntropy", "ExpectedEntropy", "MutualInformation", "FeatureDistance", "Energy", "ReviewRule" })
            Assert.IsTrue(auroc.GetProperty(key).GetDouble() is >= 0 and <= 1, key);
        Assert.AreEqual(auroc.GetProperty("ReviewRule").GetDouble(), json.RootElement.GetProperty("ood_review_rule").GetProperty("Auroc").GetDouble());
        Assert.IsTrue(json.RootElement.GetProperty("ood_flagged_by_review_rule").GetDouble() is >= 0 and <= 1);
        Assert.IsTrue(json.RootElement.GetProperty("review_rule_kept").GetDouble() is > 0 and <= 1);
        CollectionAssert.AreEqual(new[] { "PredictiveEntropy", "Energy", "FeatureDistance" },
            json.RootElement.GetProperty("review_rule_scores").EnumerateArray().Select(e => e.GetString()).ToArray());
        var rulePlot = new FileInfo(Path.Combine(report, "histogram_review_rule.png"));
        Assert.IsTrue(rulePlot.Exists && rulePlot.Length > 1000, "the rule's combined score has its histogram");
        // The console wraps long lines: read the summary with its line breaks undone.
        string flat = System.Text.RegularExpressions.Regex.Replace(output, @"\s+", " ");
        int from = flat.IndexOf("summary: ", StringComparison.Ordinal);
        Assert.IsTrue(from >= 0, output);
        string summary = flat[from..flat.IndexOf("report written to", from, StringComparison.Ordinal)];
        foreach (string part in new[] { "PredictiveEntropy", "Confidence", "MutualInformation", "FeatureDistance", "Energy", "review rule", "of ood", "keeps" })
            StringAssert.Contains(summary, part);
    }

    [TestMethod]
    public void ScoreFlagsRowsWithTheStoredMultiScoreRule()
    {
        var rule = SavedModel.Inspect(Zip).ReviewRule!;
        CollectionAssert.AreEqual(new[] { UncertaintyScore.PredictiveEntropy, UncertaintyScore.Energy, UncertaintyScore.FeatureDistance }, rule.Scores.ToArray(),
            "train's default rule uses the three scores");
        Assert.AreEqual(ScoreCombination.Fisher, rule.Combination);
        string csv = Path.Combine(Root, "multi-rule.csv");
        var (code, output) = Run("score", "--model", Zip, "--images", Path.Combine(Root, "ood"), "--out", csv);
        Assert.AreEqual(0, code, output);
        StringAssert.Contains(output, "-ln tail share summed over PredictiveEntropy, Energy, FeatureDistance > ");
        StringAssert.Contains(output, " or FeatureDistance > ");
        var lines = File.ReadAllLines(csv);
        var header = Fields(lines[0]);
        int entropy = header.IndexOf("predictive_entropy"), energy = header.IndexOf("energy"), distance = header.IndexOf("feature_distance"), review = header.IndexOf("needs_review");
        int checkedRows = 0;
        foreach (var fields in lines.Skip(1).Select(Fields))
        {
            var values = new Dictionary<UncertaintyScore, float>
            {
                [UncertaintyScore.PredictiveEntropy] = float.Parse(fields[entropy], System.Globalization.CultureInfo.InvariantCulture),
                [UncertaintyScore.Energy] = float.Parse(fields[energy], System.Globalization.CultureInfo.InvariantCulture),
                [UncertaintyScore.FeatureDistance] = float.Parse(fields[distance], System.Globalization.CultureInfo.InvariantCulture),
            };
            // The CSV writes floats round-trip, so the rule applied to its columns must give the same answer.
            bool expected = rule.NeedsReview(s => values[s]);
            Assert.AreEqual(expected ? "true" : "false", fields[review], string.Join(",", fields));
            checkedRows++;
        }
        Assert.AreEqual(30, checkedRows, "every OOD image has a row");
        var (bad, badOutput) = Run("score", "--model", Zip, "--images", Path.Combine(Root, "ood"), "--out", csv + ".2", "--review-score", "PredictiveEntropy,MutualInformation", "--threshold", "0.5");
        Assert.AreNotEqual(0, bad);
        StringAssert.Contains(badOutput, "--threshold applies to one score");
    }

    [TestMethod]
    public void ScoreWritesOneRowPerImageFlagsErrorsAndResumes()
    {
        string images = Path.Combine(Root, "incoming");
        ImageFolder.Write(TestData.Test.StratifiedHead(1), images);
        File.WriteAllText(Path.Combine(images, "not-an-image.png"), "this is text");
        int imageCount = Directory.GetFiles(images, "*.png", SearchOption.AllDirectories).Length;
        string csv = Path.Combine(Root, "predictions.csv");

        var (code, output) = Run("score", "--model", Zip, "--images", images, "--out", csv);
        Assert.AreEqual(1, code, $"a failed row makes the exit code 1: {output}");
        var lines = File.ReadAllLines(csv);
        Assert.AreEqual(imageCount + 1, lines.Length, "header + one row per image");
        StringAssert.StartsWith(lines[0], "path,predicted_label,confidence,predictive_entropy,expected_entropy,mutual_information,feature_distance,energy,needs_review,p_");
        var error = lines.Single(l => l.StartsWith("not-an-image.png"));
        StringAssert.Contains(error, "is not an image this library reads");
        Assert.AreEqual(Fields(lines[0]).Count, Fields(error).Count, "error rows have every column");
        foreach (string line in lines.Skip(1).Where(l => !l.StartsWith("not-an-image")))
        {
            var fields = line.Split(',');
            Assert.IsTrue(fields[8] is "true" or "false", "needs_review from the stored rule");
            Assert.IsTrue(double.Parse(fields[6], System.Globalization.CultureInfo.InvariantCulture) > 0, "feature_distance of a trained model");
            Assert.AreEqual(1.0, fields.Skip(9).Take(10).Sum(v => double.Parse(v, System.Globalization.CultureInfo.InvariantCulture)), 1e-3);
        }

        File.Copy(Path.Combine(images, "Bag", Directory.GetFiles(Path.Combine(images, "Bag"))[0]), Path.Combine(images, "Bag", "late-arrival.png"));
        (code, output) = Run("score", "--model", Zip, "--images", images, "--out", csv);
        StringAssert.Contains(output, "scored 1,");
        var resumed = File.ReadAllLines(csv);
        Assert.AreEqual(imageCount + 2, resumed.Length, "the second run adds only the new image");
        Assert.AreEqual(resumed.Skip(1).Select(l => l.Split(',')[0]).Distinct().Count(), resumed.Length - 1, "no path twice");
        Assert.AreEqual(1, code, "the earlier error row still counts");
    }

    [TestMethod]
    public void BadArgumentsGiveAClearMessage()
    {
        var (code, output) = Run("score", "--model", Path.Combine(Root, "missing.zip"), "--images", Root);
        Assert.AreNotEqual(0, code);
        StringAssert.Contains(output, "missing.zip");
        (code, output) = Run("--help");
        Assert.AreEqual(0, code);
        StringAssert.Contains(output, "train");
        StringAssert.Contains(output, "score");
    }

    [TestMethod]
    public void EvaluateLeavesOutAnUnreadableFileAndNamesIt()
    {
        string images = Incoming("evaluate-bad", 2);
        File.WriteAllText(Path.Combine(images, "Bag", "broken.png"), "not a png");
        string report = Path.Combine(Root, "report-bad");
        var (code, output) = Run("evaluate", "--model", Zip, "--data", images, "--report", report);
        Assert.AreEqual(0, code, output);
        StringAssert.Contains(output, "left out:");
        StringAssert.Contains(output, "broken.png");
        using var json = System.Text.Json.JsonDocument.Parse(File.ReadAllText(Path.Combine(report, "metrics.json")));
        Assert.AreEqual(20, json.RootElement.GetProperty("images").GetInt32());
        var skipped = json.RootElement.GetProperty("skipped_files");
        Assert.AreEqual(1, skipped.GetArrayLength());
        StringAssert.EndsWith(skipped[0].GetProperty("file").GetString(), "broken.png");
    }

    [TestMethod]
    public void EveryOptionOfEveryVerbHasHelpTextAndSaysItsDefault()
    {
        foreach (string verb in new[] { "train", "evaluate", "score", "merge" })
        {
            var (code, output) = CliTool.Run(new[] { verb, "--help" }, new Dictionary<string, string?> { ["COLUMNS"] = "400" });
            Assert.AreEqual(0, code, output);
            var options = output.Split('\n').SkipWhile(l => !l.StartsWith("OPTIONS:")).Skip(1)
                .Where(l => System.Text.RegularExpressions.Regex.IsMatch(l, @"^\s+(-\w, )?--[\w-]+")).ToList();
            Assert.IsTrue(options.Count >= 3, $"{verb} --help lists its options:\n{output}");
            foreach (string line in options)
            {
                // Columns: the option, its default (when it has one), its description.
                var columns = System.Text.RegularExpressions.Regex.Split(line.Trim(), @"\s{2,}");
                string option = columns[0];
                Assert.IsTrue(columns.Length >= 2 && columns[^1].Length > 10, $"{verb} {option} has help text: '{line.Trim()}'");
                bool takesValue = option.Contains('<');
                bool saysDefault = columns.Length >= 3 || columns[^1].Contains("Default") || columns[^1].Contains("Required");
                Assert.IsTrue(!takesValue || saysDefault, $"{verb} {option} shows its default or says it is required: '{line.Trim()}'");
            }
        }
        // Every training setting with its meaning; a cross-reference in the documentation reads as its name, not as a gap.
        var (listCode, list) = CliTool.Run(new[] { "train", "--list-settings" }, new Dictionary<string, string?> { ["COLUMNS"] = "400" });
        Assert.AreEqual(0, listCode, list);
        string flat = string.Join(" ", list.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries));
        StringAssert.Contains(flat, "the means keep SharedLearningRate");
        Assert.IsFalse(flat.Contains("keep .") || flat.Contains(" for , "), "no cross-reference is left out");
    }

    [TestMethod]
    public void ATornLastLineIsCutAwayAndItsImageScoredAgain()
    {
        string images = Incoming("torn", 2);
        string clean = Path.Combine(Root, "torn-clean.csv");
        Assert.AreEqual(0, Run("score", "--model", Zip, "--images", images, "--out", clean, "--batch", "7").Code);
        var expected = RowsByPath(clean);
        foreach (int keep in new[] { 5, 40, 150 })
        {
            // A run killed while writing its last line: the file ends part-way through that line.
            string torn = Path.Combine(Root, $"torn-{keep}.csv");
            var bytes = File.ReadAllBytes(clean);
            int lastLine = Array.LastIndexOf(bytes, (byte)'\n', bytes.Length - 2) + 1;
            File.WriteAllBytes(torn, bytes[..(lastLine + Math.Min(keep, bytes.Length - 1 - lastLine - 1))]);
            var (code, output) = Run("score", "--model", Zip, "--images", images, "--out", torn);
            Assert.AreEqual(0, code, output);
            StringAssert.Contains(output, "cut a torn last line");
            StringAssert.Contains(output, "scored 1,");
            CollectionAssert.AreEquivalent(expected.ToList(), RowsByPath(torn).ToList(), $"torn after {keep} bytes: the repaired file equals a clean run");
        }
    }

    [TestMethod]
    public void KillingScoreManyTimesLosesNoRowAndDuplicatesNone()
    {
        string images = Incoming("killed", 30);
        string clean = Path.Combine(Root, "killed-clean.csv");
        Assert.AreEqual(0, Run("score", "--model", Zip, "--images", images, "--out", clean, "--batch", "1").Code);
        var expected = RowsByPath(clean);

        string csv = Path.Combine(Root, "killed.csv");
        var random = new Random(5);
        int kills = 0;
        for (int attempt = 0; attempt < 6; attempt++)
        {
            long startLength = File.Exists(csv) ? new FileInfo(csv).Length : 0;
            using var process = Start("score", "--model", Zip, "--images", images, "--out", csv, "--batch", "1");
            process.StandardOutput.ReadToEndAsync();
            process.StandardError.ReadToEndAsync();
            // Kill once this run has written rows of its own, a random moment later: mid-run, possibly mid-write.
            while (!process.HasExited && (!File.Exists(csv) || new FileInfo(csv).Length < startLength + 400)) Thread.Sleep(20);
            Thread.Sleep(random.Next(400));
            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);   // SIGKILL: no chance to finish a write
                kills++;
            }
            process.WaitForExit();
        }
        var (code, output) = Run("score", "--model", Zip, "--images", images, "--out", csv, "--batch", "1");
        Assert.AreEqual(0, code, output);
        Console.WriteLine($"killed {kills} runs of score mid-run; the last run finished the file");
        Assert.IsTrue(kills >= 4, $"only {kills} runs were killed before they finished");
        CollectionAssert.AreEquivalent(expected.ToList(), RowsByPath(csv).ToList(), "after the kills every image has exactly its clean row");
    }

    [TestMethod]
    public void AModelWhoseScoresAreNotFiniteGivesErrorRowsNotDecisions()
    {
        // A model saved with NaN weights (a legitimate file: its digests match) makes every score NaN.
        var ml = new MLContext(seed: 1);
        var data = Tests.MLNetIntegration.ImagePipelineTests.Load(ml, Path.Combine(Root, "train"));
        var pipeline = ml.Transforms.Conversion.MapValueToKey("Label")
            .Append(ml.Transforms.LoadImages("Image", imageFolder: null, "ImagePath"))
            .Append(ml.MulticlassClassification.Trainers.BayesianImageClassification(new BayesianImageClassificationTrainer.Options
            {
                DeterministicEpochs = 1, MeanFieldEpochs = 1, SharedEpochs = 1, BatchSize = 32, PredictionSamples = 3,
                SharedPosterior = { ComponentBudget = 16, MinMembers = 10 },
            }));
        using var model = pipeline.Fit(data);
        using (TorchSharp.torch.no_grad()) model.LastTransformer.Model.Network.SharedPosterior!.ComponentsMean.fill_(double.NaN);
        string zip = Path.Combine(Root, "nan.zip");
        MLNet.Bayesian.Persistence.BayesianModel.Save(ml, model, data.Schema, zip);

        string images = Incoming("nan-images", 1);
        string csv = Path.Combine(Root, "nan.csv");
        var (code, output) = Run("score", "--model", zip, "--images", images, "--out", csv, "--threshold", "0.05");
        Assert.AreEqual(1, code, $"rows that could not be scored make the exit code 1: {output}");
        var rows = RowsByPath(csv);
        Assert.AreEqual(Directory.GetFiles(images, "*.png", SearchOption.AllDirectories).Length, rows.Count, "one row per image");
        foreach (var row in rows.Values)
        {
            var fields = Fields(row);
            Assert.AreEqual("", fields[1], "no predicted label");
            Assert.AreEqual("", fields[6], "no needs_review decision");
            StringAssert.Contains(fields[^1], "not finite numbers");
        }
    }
}
