using MLNet.Bayesian.Posterior;

namespace MLNet.Bayesian.Tests.Posterior;

[TestClass]
public sealed class SharedPosteriorBuilderTests
{
    /// <summary>Two layers whose (mu, log sigma) points come from the planted 3-blob mixture, scaled to weight-like values.</summary>
    internal static List<PosteriorLayerPoints> PlantedLayers(int perComponent = 600, int seed = 4)
    {
        var (x, y, _) = GaussianMixture2DTests.Sample(perComponent, seed);
        var rng = new Random(seed);
        var order = Enumerable.Range(0, x.Length).OrderBy(_ => rng.Next()).ToArray();
        float[] mu = order.Select(i => (float)(x[i] * 0.02)).ToArray();
        float[] sigma = order.Select(i => (float)Math.Exp(-6 + 0.3 * y[i])).ToArray();
        float[] grad = order.Select(_ => (float)rng.NextDouble()).ToArray();
        int half = mu.Length / 2;
        return new List<PosteriorLayerPoints>
        {
            new("conv", new long[] { half }, mu[..half], sigma[..half], grad[..half]),
            new("fc", new long[] { mu.Length - half }, mu[half..], sigma[half..], grad[half..]),
        };
    }

    /// <summary>
    /// Issue 29: a ResNet-18 whose stage 1 left log sigma flat (sd 2.3e-7 nats) ended in a native floating point exception
    /// right after stage 2 started. Stage 2 on such points, nearly constant and exactly constant in log sigma, two million
    /// of them over layers of a ResNet's sizes, builds a plan that covers every weight with finite components.
    /// (The full 11.2 million took 9.5 and 4.5 s here, also without a crash; the architectures' own test trains ResNet-18.)
    /// </summary>
    [TestMethod]
    [DataRow(2.3e-7)]
    [DataRow(0.0)]
    public void NearlyConstantLogSigmaOverMillionsOfWeightsBuildsAPlan(double relativeSpread)
    {
        var rng = new Random(1);
        var layers = new[] { 9408, 36864, 147456, 589824, 1179648, 5120 }.Select((size, i) =>
        {
            var mu = new float[size];
            var sigma = new float[size];
            var gradient = new float[size];
            for (int k = 0; k < size; k++)
            {
                mu[k] = (float)(rng.NextDouble() - 0.5) * 0.1f;
                sigma[k] = 1.3e-3f * (float)(1 + relativeSpread * (rng.NextDouble() - 0.5));
                gradient[k] = (float)rng.NextDouble() * 1e-4f;
            }
            return new PosteriorLayerPoints($"layer{i}", new long[] { size }, mu, sigma, gradient);
        }).ToList();
        var plan = SharedPosteriorBuilder.Build(layers, new SharedPosteriorOptions());
        Console.WriteLine($"relative spread {relativeSpread}: {plan.Statistics}");
        Assert.AreEqual(layers.Sum(l => (long)l.Count), plan.Statistics.Weights);
        Assert.IsTrue(plan.Statistics.Components >= 1);
        Assert.IsTrue(plan.Components.All(c => double.IsFinite(c.Mx) && double.IsFinite(c.My) && c.Det > 0), "every component is finite, with a positive-definite covariance");
    }

    [TestMethod]
    public void EveryWeightIsCoveredExactlyOnce()
    {
        var layers = PlantedLayers();
        var plan = SharedPosteriorBuilder.Build(layers, new SharedPosteriorOptions { ComponentBudget = 8, MergeThreshold = 0 });
        Assert.AreEqual(layers.Sum(l => l.Count), plan.WeightCount);
        Assert.IsInstanceOfType<byte[]>(plan.CompactComponentIndex, "at most 256 components: 8-bit index");
        Assert.AreEqual(plan.OutlierPositions.Length, plan.OutlierPositions.Distinct().Count());
        Assert.IsFalse(plan.EllipsePositions.Intersect(plan.OutlierPositions).Any(), "an outlier is never also a blend");
        var index = plan.GatherIndex();
        int k = plan.Components.Length, o = plan.OutlierPositions.Length;
        Assert.IsTrue(index.All(i => i >= 0 && i < k + o + plan.EllipsePositions.Length));
        Assert.AreEqual(plan.WeightCount - o, plan.MemberCounts.Sum(), "every inlier belongs to a component");
        foreach (int p in plan.EllipsePositions) Assert.IsTrue(plan.ComponentOf(p) < k);
        for (int e = 0; e < plan.EllipsePositions.Length; e++)
        {
            Assert.AreEqual(1f, plan.EllipseAlphaFirst[e] + plan.EllipseAlphaSecond[e], 1e-5f);
            Assert.IsTrue(plan.EllipseAlphaFirst[e] >= plan.EllipseAlphaSecond[e]);
            Assert.AreNotEqual(plan.EllipseFirst[e], plan.EllipseSecond[e]);
        }
    }

    [TestMethod]
    public void OutlierRulesFollowTheirOptions()
    {
        var layers = PlantedLayers();
        int n = layers.Sum(l => l.Count);
        var none = SharedPosteriorBuilder.Build(layers, new SharedPosteriorOptions
        { OutlierQuantile = 0, MuThreshold = double.PositiveInfinity, GradientFraction = 0, ComponentBudget = 3 });
        Assert.AreEqual(0, none.OutlierPositions.Length);

        var gradientOnly = SharedPosteriorBuilder.Build(layers, new SharedPosteriorOptions
        { OutlierQuantile = 0, MuThreshold = double.PositiveInfinity, GradientFraction = 0.05, ComponentBudget = 3 });
        Assert.AreEqual((int)(n * 0.05), gradientOnly.OutlierPositions.Length);
        var grads = layers.SelectMany(l => l.GradientMagnitude!).ToArray();
        float smallestKept = gradientOnly.OutlierPositions.Min(p => grads[p]);
        Assert.AreEqual(n - (int)(n * 0.05), grads.Count(g => g < smallestKept), "the outliers are the top gradients");

        var muOnly = SharedPosteriorBuilder.Build(layers, new SharedPosteriorOptions
        { OutlierQuantile = 0, MuThreshold = 0.05, GradientFraction = 0, ComponentBudget = 3 });
        var mus = layers.SelectMany(l => l.Mu).ToArray();
        CollectionAssert.AreEquivalent(Enumerable.Range(0, n).Where(i => Math.Abs(mus[i]) >= 0.05).ToArray(), muOnly.OutlierPositions);

        var box = SharedPosteriorBuilder.Build(layers, new SharedPosteriorOptions
        { OutlierQuantile = 0.01, MuThreshold = double.PositiveInfinity, GradientFraction = 0, ComponentBudget = 3 });
        Assert.IsTrue(box.OutlierPositions.Length > 0.02 * n && box.OutlierPositions.Length <= 0.04 * n + 4);
    }

    [TestMethod]
    public void MergingLowersTheCountAndKeepsEveryWeightAssigned()
    {
        var layers = PlantedLayers();
        var options = new SharedPosteriorOptions { ComponentBudget = 12, MergeThreshold = 0, MinMembers = 5 };
        var unmerged = SharedPosteriorBuilder.Build(layers, options);
        // A threshold of the size of the blobs' own spread merges the over-split pieces.
        options.MergeThreshold = 1e-3;
        var merged = SharedPosteriorBuilder.Build(layers, options);
        Assert.IsTrue(merged.Components.Length < unmerged.Components.Length,
            $"{merged.Components.Length} components after merging, {unmerged.Components.Length} before");
        Assert.AreEqual(merged.WeightCount - merged.OutlierPositions.Length, merged.MemberCounts.Sum());
        Assert.IsTrue(merged.GatherIndex().All(i => i >= 0));
        for (int i = 0; i < merged.Components.Length; i++)
            for (int j = i + 1; j < merged.Components.Length; j++)
                Assert.IsTrue(Gaussian2.W2Squared(merged.Components[i], merged.Components[j]) >= 1e-3);
    }

    [TestMethod]
    public void MergeByMomentMatchingUntilNoPairIsClose()
    {
        var comps = new[] { new Gaussian2(0, 0, 1, 0, 1), new Gaussian2(0.01, 0, 1, 0, 1), new Gaussian2(10, 0, 1, 0, 1) };
        var (merged, counts) = SharedPosteriorBuilder.Merge(comps, new[] { 30, 10, 50 }, threshold: 0.01);
        Assert.AreEqual(2, merged.Length);
        CollectionAssert.AreEqual(new[] { 40, 50 }, counts);
        Assert.AreEqual(0.0025, merged[0].Mx, 1e-12, "weighted by member counts");
    }

    [TestMethod]
    public void PerLayerPoolsFitEachLayerAlone()
    {
        var layers = PlantedLayers();
        var plan = SharedPosteriorBuilder.Build(layers, new SharedPosteriorOptions { PerLayer = true, ComponentBudget = 3, GradientFraction = 0 });
        Assert.IsTrue(plan.Components.Length >= 4, "each layer gets its own components");
        var index = plan.GatherIndex();
        var firstLayerComponents = Enumerable.Range(0, (int)layers[0].Count).Where(p => index[p] < plan.Components.Length).Select(p => index[p]).ToHashSet();
        var secondLayerComponents = Enumerable.Range((int)layers[0].Count, layers[1].Count).Where(p => index[p] < plan.Components.Length).Select(p => index[p]).ToHashSet();
        Assert.IsFalse(firstLayerComponents.Overlaps(secondLayerComponents));
    }

    [TestMethod]
    public void BicChoosesTheComponentCountWhenAsked()
    {
        var layers = PlantedLayers();
        var plan = SharedPosteriorBuilder.Build(layers, new SharedPosteriorOptions
        { BicCandidates = new[] { 1, 2, 3, 4, 5 }, OutlierQuantile = 0, MuThreshold = double.PositiveInfinity, GradientFraction = 0, MergeThreshold = 0 });
        Assert.AreEqual(3, plan.Components.Length);
    }
}
