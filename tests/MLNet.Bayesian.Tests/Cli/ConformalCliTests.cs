using Microsoft.ML;
using MLNet.Bayesian.Data;
using MLNet.Bayesian.Persistence;
using MLNet.Bayesian.Scoring;

namespace MLNet.Bayesian.Tests.Cli;

/// <summary>The CLI's model has prediction sets (train fits them by default); score and evaluate, each a new process, report them.</summary>
[TestClass]
public sealed class ConformalCliTests
{
    [TestMethod]
    public void ScoreInANewProcessWritesTheSetsThisProcessComputesFromTheSavedModel()
    {
        string images = CliTool.Incoming("conformal-incoming", 4);
        string csv = Path.Combine(CliTool.Root, "conformal-predictions.csv");
        var (code, output) = CliTool.Run("score", "--model", CliTool.Model, "--images", images, "--out", csv);
        Assert.AreEqual(0, code, output);
        var header = CliTool.Fields(File.ReadAllLines(csv)[0]);
        int setColumn = header.IndexOf("prediction_set"), sizeColumn = header.IndexOf("prediction_set_size");
        Assert.IsTrue(setColumn > 0 && sizeColumn == setColumn + 1 && header[^1] == "error", string.Join(",", header));
        var rows = CliTool.RowsByPath(csv);

        var ml = new MLContext(seed: 9);
        var model = BayesianModel.Load(ml, CliTool.Model, out _);
        var files = ImageFolder.ListImageFiles(images);
        var scored = model.Transform(ml.Data.LoadFromEnumerable(files.Select(f => new ImageFolderEntry { ImagePath = f, Label = "" })));
        var labels = BayesianModel.Inspect(CliTool.Model).Labels;
        var predictions = ml.Data.CreateEnumerable<BayesianSetPrediction>(scored, reuseRowObject: false).ToList();
        Assert.AreEqual(files.Count, predictions.Count);
        int several = 0;
        for (int i = 0; i < files.Count; i++)
        {
            var fields = CliTool.Fields(rows[Path.GetRelativePath(images, files[i])]);
            var p = predictions[i];
            var expected = Enumerable.Range(0, labels.Count).Where(c => p.PredictionSet[c]).OrderByDescending(c => p.Score[c]).ThenBy(c => c).Select(c => labels[c]);
            Assert.AreEqual(string.Join("|", expected), fields[setColumn], $"row {i}: the same set in both processes");
            Assert.AreEqual(p.PredictionSetSize, float.Parse(fields[sizeColumn], System.Globalization.CultureInfo.InvariantCulture), $"row {i}");
            if (p.PredictionSetSize > 1) several++;
        }
        Console.WriteLine($"{several} of {files.Count} sets hold more than one class");
    }

    [TestMethod]
    public void EvaluateReportsCoverageAndMeanSetSize()
    {
        string report = Path.Combine(CliTool.Root, "conformal-report");
        var (code, output) = CliTool.Run("evaluate", "--model", CliTool.Model, "--data", Path.Combine(CliTool.Root, "test"), "--report", report);
        Assert.AreEqual(0, code, output);
        StringAssert.Contains(output, "prediction sets: coverage");
        using var json = System.Text.Json.JsonDocument.Parse(File.ReadAllText(Path.Combine(report, "metrics.json")));
        double coverage = json.RootElement.GetProperty("conformal_coverage").GetDouble(), size = json.RootElement.GetProperty("conformal_mean_set_size").GetDouble();
        Assert.IsTrue(coverage is > 0 and <= 1, $"coverage {coverage}");
        Assert.IsTrue(size is >= 0 and <= 10, $"mean size {size}");
    }

    [TestMethod]
    public void OnAFolderTooSmallToCalibrateTheDefaultSetsGiveWayAndAnAskedCoverageStopsBeforeTraining()
    {
        // 40 images: 4 validation images, 2 of them to calibrate; coverage 0.9 needs 9.
        var (train, test) = MLNet.Bayesian.Tests.MLNetIntegration.ImagePipelineTests.WriteFolders(4, 1);
        string root = Path.GetDirectoryName(train)!, zip = Path.Combine(root, "small.zip");
        var (code, output) = CliTool.Run("train", "--data", train, "--out", zip, "--conformal-coverage", "0.9", "--epochs", "1,1,1");
        Assert.AreNotEqual(0, code, output);
        StringAssert.Contains(output, "--conformal-coverage 0.9: the calibration share");
        StringAssert.Contains(output, "need at least 9");
        Assert.IsFalse(output.Contains("stage 0"), "refused before training:\n" + output);
        Assert.IsFalse(File.Exists(zip));

        (code, output) = CliTool.Run("train", "--data", train, "--out", zip, "--epochs", "1,1,1", "--samples", "4");
        Assert.AreEqual(0, code, output);
        StringAssert.Contains(output, "no prediction sets: the calibration share");
        string csv = Path.Combine(root, "small-predictions.csv");
        (code, output) = CliTool.Run("score", "--model", zip, "--images", test, "--out", csv);
        Assert.AreEqual(0, code, output);
        var header = CliTool.Fields(File.ReadAllLines(csv)[0]);
        Assert.IsFalse(header.Contains("prediction_set"), string.Join(",", header));
        Assert.AreEqual(10, CliTool.RowsByPath(csv).Count);
    }

    [TestMethod]
    public void TrainRefusesACoverageOutsideZeroToOneAndADrawForLac()
    {
        var (code, output) = CliTool.Run("train", "--data", Path.Combine(CliTool.Root, "train"), "--out", Path.Combine(CliTool.Root, "never.zip"), "--conformal-coverage", "1.5");
        Assert.AreNotEqual(0, code);
        StringAssert.Contains(output, "--conformal-coverage");
        (code, output) = CliTool.Run("train", "--data", Path.Combine(CliTool.Root, "train"), "--out", Path.Combine(CliTool.Root, "never.zip"), "--conformal-randomized", "true");
        Assert.AreNotEqual(0, code);
        StringAssert.Contains(output, "--conformal-randomized true is for --conformal-method aps or raps");
        Assert.IsFalse(File.Exists(Path.Combine(CliTool.Root, "never.zip")));
    }
}
