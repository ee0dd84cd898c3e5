using MLNet.Bayesian.Persistence;
using MLNet.Bayesian.Scoring;
using MLNet.Bayesian.Uncertainty;
using static TorchSharp.torch;

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
            Assert.AreEqual($"{d.Score}Score", d.GetType().Name, "one file per score in Uncertainty/Scores, named after it");
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
            BayesianOnnxExport.BatchOutputNames.Take(2 + UncertaintyScores.Descriptors.Count).ToArray(), "the bare graph's outputs, in order");
        Assert.AreEqual("predicted_label", BayesianOnnxExport.BatchOutputNames[^1]);
        CollectionAssert.AreEqual(UncertaintyScores.All.ToArray(), OnnxOutputSqueeze.Scores.ToArray(), "the saved model packs every score, in table order");
        Assert.AreEqual(OnnxOutputSqueeze.ScoreCount, UncertaintyScores.Descriptors.Count, "the squeeze's input vector holds every score");
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

    /// <summary>
    /// Each descriptor's computation on a hand-worked batch: two draws that disagree completely on row 0 (p = [1, 0] and
    /// [0, 1]) and agree on row 1 (both [0.5, 0.5]), logits [0, 0] in every draw, feature distances 3 and 4.
    /// </summary>
    [TestMethod]
    public void EachScoreComputesItsHandWorkedValues()
    {
        using var scope = NewDisposeScope();
        var p = tensor(new double[] { 1, 0, 0.5, 0.5, 0, 1, 0.5, 0.5 }, new long[] { 2, 2, 2 });
        var logits = zeros(2, 2, 2);
        var d = PredictiveDistribution.FromSamples(p, featureDistance: tensor(new float[] { 3, 4 }), logits: logits);
        double ln2 = Math.Log(2);
        CollectionAssert.AreEqual(new float[] { 0.5f, 0.5f }, d.Confidence);
        Assert.AreEqual(ln2, d.PredictiveEntropy[0], 1e-6, "H[mean p] of [0.5, 0.5]");
        Assert.AreEqual(0, d.ExpectedEntropy[0], 1e-9, "each draw is certain");
        Assert.AreEqual(ln2, d.MutualInformation[0], 1e-6, "all of row 0's uncertainty is disagreement");
        Assert.AreEqual(ln2, d.ExpectedEntropy[1], 1e-6, "each draw of row 1 is unsure");
        Assert.AreEqual(0, d.MutualInformation[1], 1e-9, "the draws of row 1 agree");
        CollectionAssert.AreEqual(new float[] { 3, 4 }, d.FeatureDistance);
        Assert.AreEqual(-ln2, d.Energy[0], 1e-6, "-log(e^0 + e^0)");
        foreach (var score in UncertaintyScores.All)
            for (int i = 0; i < 2; i++) Assert.AreEqual(d[score][i], d.Value(score, i));

        var withoutExtras = PredictiveDistribution.FromSamples(p);
        CollectionAssert.AreEqual(new float[] { 0, 0 }, withoutExtras.FeatureDistance, "no feature fit: 0");
        CollectionAssert.AreEqual(new float[] { 0, 0 }, withoutExtras.Energy, "no logits: 0");
    }
}
