using MLNet.Bayesian.Uncertainty;

namespace MLNet.Bayesian.Tests.Uncertainty;

[TestClass]
public sealed class UncertaintyMetricsTests
{
    [TestMethod]
    public void AurocAuprAndFprByHand()
    {
        var perfect = OutOfDistributionMetrics.Compute(new[] { 0.1f, 0.2f }, new[] { 0.8f, 0.9f });
        Assert.AreEqual(1, perfect.Auroc, 1e-12);
        Assert.AreEqual(1, perfect.Aupr, 1e-12);
        Assert.AreEqual(0, perfect.FprAt95Tpr, 1e-12);

        var same = OutOfDistributionMetrics.Compute(new[] { 0.5f, 0.5f }, new[] { 0.5f, 0.5f });
        Assert.AreEqual(0.5, same.Auroc, 1e-12, "all ties: chance");

        // In: 0.1, 0.4, 0.6; out: 0.5, 0.7. Pairs (out > in): 0.5 beats 0.1, 0.4; 0.7 beats all three -> 5 of 6.
        var m = OutOfDistributionMetrics.Compute(new[] { 0.1f, 0.4f, 0.6f }, new[] { 0.5f, 0.7f });
        Assert.AreEqual(5.0 / 6, m.Auroc, 1e-12);
        // Ranked: 0.7(+) 0.6(-) 0.5(+) ...: precision at each positive 1 and 2/3 -> AP = (1 + 2/3) / 2.
        Assert.AreEqual((1 + 2.0 / 3) / 2, m.Aupr, 1e-12);
        // 95% of OOD needs both positives: threshold 0.5 admits one in-distribution score (0.6) of three.
        Assert.AreEqual(1.0 / 3, m.FprAt95Tpr, 1e-12);
    }

    [TestMethod]
    public void RiskCoverageByHand()
    {
        var correct = new[] { true, false, true, true };
        var uncertainty = new[] { 0.1f, 0.9f, 0.3f, 0.2f };
        var curve = RiskCoverage.Compute(correct, uncertainty);
        CollectionAssert.AreEqual(new[] { 0.25, 0.5, 0.75, 1.0 }, curve.Coverage);
        CollectionAssert.AreEqual(new[] { 0.0, 0.0, 0.0, 0.25 }, curve.Risk);
        Assert.AreEqual(0.0625, curve.Aurc, 1e-12);
        Assert.AreEqual(1.0, curve.AccuracyAtCoverage(0.75));
        Assert.AreEqual(0.3, curve.ThresholdAtCoverage(0.75), 1e-6);
        var (coverage, threshold) = curve.CoverageForAccuracy(0.99);
        Assert.AreEqual(0.75, coverage);
        Assert.AreEqual(0.3, threshold, 1e-6);
        Assert.AreEqual(0, RiskCoverage.Compute(new[] { true, true }, new[] { 1f, 2f }).Aurc);
    }

    [TestMethod]
    public void ReliabilityBinsReproduceTheEce()
    {
        var rng = new Random(3);
        int n = 500, k = 4;
        var probs = new float[n * k];
        var labels = new int[n];
        for (int i = 0; i < n; i++)
        {
            var raw = Enumerable.Range(0, k).Select(_ => Math.Exp(3 * rng.NextDouble())).ToArray();
            for (int c = 0; c < k; c++) probs[i * k + c] = (float)(raw[c] / raw.Sum());
            labels[i] = rng.Next(k);
        }
        var bins = ReliabilityDiagram.Compute(probs, labels, k);
        Assert.AreEqual(15, bins.Count);
        Assert.AreEqual(n, bins.Sum(b => b.Count));
        Assert.AreEqual(ClassificationMetrics.Compute(probs, labels, k).Ece, ReliabilityDiagram.Ece(bins), 1e-9);
    }

    [TestMethod]
    public void TemperatureScalingRecoversAnOverconfidenceFactor()
    {
        // Labels drawn from softmax(z); the model reports softmax(3 z): overconfident by T = 3.
        var rng = new Random(5);
        int n = 4000, k = 5;
        var reported = new float[n * k];
        var labels = new int[n];
        for (int i = 0; i < n; i++)
        {
            var z = Enumerable.Range(0, k).Select(_ => rng.NextDouble() * 2).ToArray();
            var truth = Softmax(z, 1);
            double u = rng.NextDouble(), acc = 0;
            labels[i] = k - 1;
            for (int c = 0; c < k; c++) { acc += truth[c]; if (u < acc) { labels[i] = c; break; } }
            var sharp = Softmax(z, 3);
            for (int c = 0; c < k; c++) reported[i * k + c] = (float)sharp[c];
        }
        var scaling = TemperatureScaling.Fit(reported, labels, k);
        Assert.AreEqual(3, scaling.Temperature, 0.3);
        var before = ClassificationMetrics.Compute(reported, labels, k);
        var after = ClassificationMetrics.Compute(scaling.Apply(reported, k), labels, k);
        Assert.IsTrue(after.Nll < before.Nll && after.Ece < before.Ece, $"before {before}, after {after}");
        Assert.AreEqual(before.Accuracy, after.Accuracy, 1e-12, "a temperature never changes the arg max");
    }

    static double[] Softmax(double[] z, double scale)
    {
        var e = z.Select(v => Math.Exp(scale * v)).ToArray();
        return e.Select(v => v / e.Sum()).ToArray();
    }
}
