using MLNet.Bayesian.Persistence;
using MLNet.Bayesian.Scoring;
using MLNet.Bayesian.Uncertainty;

namespace MLNet.Bayesian.Tests.Uncertainty;

/// <summary>The one table of scores is complete, and the columns, CSV, ONNX outputs and prediction rows all follow it.</summary>
[TestClass]
public sealed class ScoreDescriptorTests
{
    [TestMethod]
    public void EveryScoreHasOneDescriptorInEnumOrder()
    {
        CollectionAssert.AreEqual(Enum.GetValues<UncertaintyScore>(), UncertaintyScores.Descriptors.Select(d => d.Score).ToArray());
        foreach (var d in UncertaintyScores.Descriptors)
        {
            Assert.AreEqual(d.Score.ToString(), d.ColumnName, "the column is named as the score (UncertaintyScores.Parse reads column names)");
            Assert.AreEqual(d.Score.ToString(), d.Statistic.ToString(), "the statistic of the same name");
            Assert.AreEqual(string.Concat(d.ColumnName.Select((c, i) => i > 0 && char.IsUpper(c) ? "_" + char.ToLowerInvariant(c) : char.ToLowerInvariant(c).ToString())),
                d.SnakeName);
            Assert.IsFalse(string.IsNullOrWhiteSpace(d.Unit), $"{d.Score}: unit");
            Assert.IsFalse(string.IsNullOrWhiteSpace(d.Meaning), $"{d.Score}: meaning");
            Assert.AreEqual(d, d.Score.Describe());
        }
        Assert.IsFalse(UncertaintyScore.Confidence.HighMeansUncertain(), "confidence runs the other way");
        Assert.AreEqual(1, UncertaintyScores.Descriptors.Count(d => !d.HighMeansUncertain));
        Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => ((UncertaintyScore)99).Describe());
    }

    [TestMethod]
    public void ColumnsCsvAndOnnxOutputsFollowTheTable()
    {
        CollectionAssert.AreEqual(UncertaintyScores.Descriptors.Select(d => d.ColumnName).ToArray(), OutputColumns.Uncertainty.Select(c => c.Name).ToArray());
        CollectionAssert.AreEqual(UncertaintyScores.Descriptors.Select(d => d.SnakeName).ToArray(), OutputColumns.Uncertainty.Select(c => c.CsvName).ToArray());
        CollectionAssert.AreEqual(
            new[] { "probabilities", "predicted_class" }.Concat(UncertaintyScores.Descriptors.Select(d => d.SnakeName)).ToArray(),
            BayesianOnnxExport.BatchOutputNames.Values.ToArray(), "the bare graph's outputs, in order");
        // The constants users type name the same columns.
        CollectionAssert.AreEqual(
            new[] { BayesianColumnNames.Confidence, BayesianColumnNames.PredictiveEntropy, BayesianColumnNames.ExpectedEntropy,
                    BayesianColumnNames.MutualInformation, BayesianColumnNames.FeatureDistance, BayesianColumnNames.Energy },
            UncertaintyScores.Descriptors.Select(d => d.ColumnName).ToArray());
    }

    [TestMethod]
    public void APredictionRowReadsEachScoreFromItsOwnProperty()
    {
        var row = new BayesianPrediction { Confidence = 1, PredictiveEntropy = 2, ExpectedEntropy = 3, MutualInformation = 4, FeatureDistance = 5, Energy = 6 };
        CollectionAssert.AreEqual(new float[] { 1, 2, 3, 4, 5, 6 }, UncertaintyScores.All.Select(row.Value).ToArray());
    }
}
