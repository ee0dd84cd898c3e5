using MLNet.Bayesian.Posterior;

namespace MLNet.Bayesian.Tests.Posterior;

[TestClass]
public sealed class OrderStatisticsTests
{
    [TestMethod]
    public void SelectionAndQuantilesMatchASortedCopy()
    {
        var rng = new Random(3);
        // Many exact ties, as in quantised log sigma, and some distinct values.
        var values = Enumerable.Range(0, 5001).Select(i => i % 3 == 0 ? Math.Round(rng.NextDouble() * 20) : rng.NextDouble() * 20).ToArray();
        var sorted = values.OrderBy(v => v).ToArray();
        foreach (int k in new[] { 0, 1, 17, 2500, 4999, 5000 })
            Assert.AreEqual(sorted[k], OrderStatistics.Select((double[])values.Clone(), k));
        foreach (double q in new[] { 0.0, 0.01, 0.37, 0.5, 0.99, 1.0 })
        {
            double pos = q * (sorted.Length - 1);
            int lo = (int)Math.Floor(pos), hi = Math.Min(lo + 1, sorted.Length - 1);
            double expected = sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
            Assert.AreEqual(expected, OrderStatistics.Quantile((double[])values.Clone(), q), $"quantile {q}");
        }
    }
}
