using System.Text.Json;
using MLNet.Bayesian.Data;
using MLNet.Bayesian.Persistence;

namespace MLNet.Bayesian.Tests.Cli;

/// <summary>The command line with a pretrained backbone, as a new user runs it: train on a folder, score another in a new process.</summary>
[TestClass]
public sealed class BackboneCliTests
{
    [TestMethod]
    public void TrainWithTheBackboneSavesAModelThatScoresImagesInAnotherProcess()
    {
        var (train, test) = MLNet.Bayesian.Tests.MLNetIntegration.ImagePipelineTests.WriteFolders(12, 3);
        string root = Path.GetDirectoryName(train)!;
        string zip = Path.Combine(root, "backbone.zip");
        // The epochs are the frozen backbone's defaults (30,5,5): not given.
        var (code, output) = CliTool.Run("train", "--data", train, "--out", zip, "--backbone", "resnet18-imagenet", "--input-size", "128", "--samples", "8");
        Assert.AreEqual(0, code, output);
        StringAssert.Contains(output, "backbone resnet18-imagenet (frozen) + Mlp head");
        StringAssert.Contains(output, "epochs 30,5,5");
        StringAssert.Contains(output, "into features");
        var info = BayesianModel.Inspect(zip);
        Assert.AreEqual("[3,128,128]", info.InputShape, "the saved model takes RGB images at the input size");
        Assert.IsNotNull(info.ReviewRule);

        string report = Path.Combine(root, "report");
        (code, output) = CliTool.Run("evaluate", "--model", zip, "--data", test, "--report", report);
        Assert.AreEqual(0, code, output);
        using var metrics = JsonDocument.Parse(File.ReadAllText(Path.Combine(report, "metrics.json")));
        double accuracy = metrics.RootElement.GetProperty("accuracy").GetDouble();
        Console.WriteLine($"backbone through the CLI: test accuracy {accuracy:P1} on 30 images, trained on 120");
        Assert.IsTrue(accuracy >= 0.4, $"accuracy {accuracy:P1} on 10 classes");

        string csv = Path.Combine(root, "predictions.csv");
        (code, output) = CliTool.Run("score", "--model", zip, "--images", test, "--out", csv);
        Assert.AreEqual(0, code, output);
        Assert.AreEqual(30, CliTool.RowsByPath(csv).Count, "one row per image");

        (code, output) = CliTool.Run("train", "--data", train, "--out", zip, "--backbone", "resnet18-imagenet", "--input-size", "100");
        Assert.AreNotEqual(0, code);
        StringAssert.Contains(output, "multiple of 32");
        (code, output) = CliTool.Run("train", "--data", train, "--out", zip, "--backbone-training", "last-stage");
        Assert.AreNotEqual(0, code);
        StringAssert.Contains(output, "give one with --backbone");
        Directory.Delete(root, recursive: true);
    }
}
