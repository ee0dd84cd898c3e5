using MLNet.Bayesian.Posterior;

namespace MLNet.Bayesian.Tests.Posterior;

/// <summary>The stage-1 sigma diagnostics: Spearman's rank correlation against hand-computed cases, ties included.</summary>
[TestClass]
public sealed class MeanFieldSigmaDiagnosticsTests
{
    [TestMethod]
    public void SpearmanMatchesHandComputedRanksWithTies()
    {
        // Ranks of a: 0, 1.5, 1.5, 3 (the tie shares 1 and 2); of b: 0, 2, 1, 3. Deviations from 1.5: (-1.5, 0, 0, 1.5) and
        // (-1.5, 0.5, -0.5, 1.5): 4.5 / sqrt(4.5 * 5).
        Assert.AreEqual(4.5 / Math.Sqrt(4.5 * 5), MeanFieldSigmaDiagnostics.Spearman(new[] { 1.0, 2, 2, 3 }, new[] { 10.0, 30, 20, 40 }), 1e-12);
        // Any increasing function keeps the ranks: 1; a decreasing one reverses them: -1.
        double[] x = Enumerable.Range(0, 1000).Select(i => Math.Sin(i * 0.37) * 5).ToArray();
        Assert.AreEqual(1.0, MeanFieldSigmaDiagnostics.Spearman(x, x.Select(Math.Exp).ToArray()), 1e-12);
        Assert.AreEqual(-1.0, MeanFieldSigmaDiagnostics.Spearman(x, x.Select(v => -v * v * v).ToArray()), 1e-12);
        Assert.IsTrue(double.IsNaN(MeanFieldSigmaDiagnostics.Spearman(x, new double[x.Length])), "a constant side has no ranks to correlate");
    }

    [TestMethod]
    public void MeasureGivesTheSpreadPercentilesAndTheCorrelation()
    {
        var logSigma = Enumerable.Range(0, 101).Select(i => -5.0 + i / 100.0).ToArray();
        var fisher = logSigma.Select(v => Math.Exp(-3 * v)).ToArray();
        var d = MeanFieldSigmaDiagnostics.Measure(logSigma, fisher);
        Assert.AreEqual(101, d.Weights);
        Assert.AreEqual(-1.0, d.SpearmanWithFisher, 1e-12, "sigma small exactly where the Fisher is large");
        Assert.AreEqual(Math.Sqrt(Enumerable.Range(0, 101).Sum(i => Math.Pow(i / 100.0 - 0.5, 2)) / 101), d.LogSigmaSd, 1e-12);
        Assert.IsTrue(d.LogSigmaP01 < d.LogSigmaP99 && d.LogSigmaP01 >= -5.0 && d.LogSigmaP99 <= -4.0, d.ToString());
        Assert.IsTrue(double.IsNaN(MeanFieldSigmaDiagnostics.Measure(logSigma, null).SpearmanWithFisher), "no Fisher, no correlation");
    }

    [TestMethod]
    public void AboveTheSampleSizeTheCorrelationComesFromAnEvenSampleAndStaysClose()
    {
        // Three million weights whose log sigma falls with the Fisher, plus noise: the full ranking against the sample's.
        int n = 3 * MeanFieldSigmaDiagnostics.SpearmanSampleSize;
        var random = new Random(5);
        var fisher = new double[n];
        var logSigma = new double[n];
        for (int i = 0; i < n; i++)
        {
            fisher[i] = random.NextDouble();
            logSigma[i] = -fisher[i] + 0.5 * random.NextDouble();
        }
        double full = MeanFieldSigmaDiagnostics.Spearman(logSigma, fisher);
        var measured = MeanFieldSigmaDiagnostics.Measure(logSigma, fisher);
        Assert.AreEqual(n, measured.Weights, "the spread and percentiles are over every weight");
        Assert.IsTrue(full < -0.8, $"the planted correlation: {full:F4}");
        Assert.AreEqual(full, measured.SpearmanWithFisher, 0.005, "the sample's correlation is the full one's to within its sampling error");
        Assert.AreNotEqual(full, measured.SpearmanWithFisher, "and it is a sample's");
    }
}
