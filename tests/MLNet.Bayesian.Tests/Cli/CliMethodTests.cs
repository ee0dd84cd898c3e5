using MLNet.Bayesian.Persistence;

namespace MLNet.Bayesian.Tests.Cli;

/// <summary>The baselines are one <c>--set Method=...</c> away on the command line, and their models score like any other.</summary>
[TestClass]
public sealed class CliMethodTests
{
    [TestMethod]
    public void TrainWithSetMethodDeepEnsembleScoresWithItsMembers()
    {
        string zip = Path.Combine(CliTool.Root, "ensemble.zip");
        var (code, output) = CliTool.Run("train", "--data", Path.Combine(CliTool.Root, "train"), "--out", zip, "--epochs", "1,1,1", "--samples", "4",
            "--set", "Method=DeepEnsemble", "--set", "EnsembleMembers=2");
        Assert.AreEqual(0, code, output);
        StringAssert.Contains(output, "deep ensemble: member 2/2");
        var info = BayesianModel.Inspect(zip);
        Assert.AreEqual("DeepEnsemble", info.Stage);
        Assert.AreEqual(2, info.Samples, "an ensemble's S is its number of members");

        string csv = Path.Combine(CliTool.Root, "ensemble-predictions.csv");
        (code, output) = CliTool.Run("score", "--model", zip, "--images", Path.Combine(CliTool.Root, "test"), "--out", csv);
        Assert.AreEqual(0, code, output);
        var lines = File.ReadAllLines(csv);
        int mi = CliTool.Fields(lines[0]).IndexOf("mutual_information");
        Assert.IsTrue(lines.Skip(1).Any(l => double.Parse(CliTool.Fields(l)[mi], System.Globalization.CultureInfo.InvariantCulture) > 0),
            "the members disagree on some images");

        (code, output) = CliTool.Run("train", "--data", Path.Combine(CliTool.Root, "train"), "--out", zip, "--set", "DropoutRate=1.5");
        Assert.AreNotEqual(0, code);
        StringAssert.Contains(output, "DropoutRate");
    }
}
