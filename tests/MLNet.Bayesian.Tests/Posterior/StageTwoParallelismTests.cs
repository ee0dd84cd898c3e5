using MLNet.Bayesian.Posterior;

namespace MLNet.Bayesian.Tests.Posterior;

/// <summary>Stage 2 gives the same plan, bit for bit, whatever the number of threads it may use.</summary>
[TestClass]
public sealed class StageTwoParallelismTests
{
    static readonly int[] Degrees = { 1, 2, 8 };

    /// <summary>Weight-like points: mu ~ N(0, 0.05), log sigma in a narrow strip; more than one EM subsample's worth and several chunks.</summary>
    static List<PosteriorLayerPoints> Layers(int count = 30_000)
    {
        var rng = new Random(7);
        var mu = new float[count];
        var sigma = new float[count];
        var grad = new float[count];
        for (int i = 0; i < count; i++)
        {
            mu[i] = (float)Math.Clamp(0.05 * Gaussian2Tests.Normal(rng), -0.4, 0.4);
            sigma[i] = (float)Math.Exp(Math.Clamp(-6.52 + 0.02 * Gaussian2Tests.Normal(rng) + 0.3 * mu[i] * mu[i], -6.62, -6.43));
            grad[i] = (float)rng.NextDouble();
        }
        int half = count / 2;
        return new List<PosteriorLayerPoints>
        {
            new("conv", new long[] { half }, mu[..half], sigma[..half], grad[..half]),
            new("fc", new long[] { count - half }, mu[half..], sigma[half..], grad[half..]),
        };
    }

    static SharedPosteriorOptions Options(int degree) => new()
    {
        ComponentBudget = 64,
        Mixture = new MixtureFitOptions { MaxDegreeOfParallelism = degree, MaxIterations = 30 },
    };

    static long[] Bits(IEnumerable<Gaussian2> components)
        => components.SelectMany(g => new[] { g.Mx, g.My, g.Sxx, g.Sxy, g.Syy }).Select(BitConverter.DoubleToInt64Bits).ToArray();

    [TestMethod]
    public void PlanIsTheSameForEveryDegreeOfParallelism()
    {
        var layers = Layers();
        var plans = Degrees.Select(d => SharedPosteriorBuilder.Build(layers, Options(d))).ToArray();
        var first = plans[0];
        Assert.IsTrue(first.Components.Length > 10, $"only {first.Components.Length} components");
        foreach (var plan in plans.Skip(1))
        {
            CollectionAssert.AreEqual(Bits(first.Components), Bits(plan.Components));
            CollectionAssert.AreEqual(first.MemberCounts, plan.MemberCounts);
            CollectionAssert.AreEqual((byte[])first.CompactComponentIndex, (byte[])plan.CompactComponentIndex);
            CollectionAssert.AreEqual(first.OutlierPositions, plan.OutlierPositions);
            CollectionAssert.AreEqual(first.EllipsePositions, plan.EllipsePositions);
            CollectionAssert.AreEqual(first.EllipseFirst, plan.EllipseFirst);
            CollectionAssert.AreEqual(first.EllipseSecond, plan.EllipseSecond);
            CollectionAssert.AreEqual(first.EllipseAlphaFirst, plan.EllipseAlphaFirst);
            CollectionAssert.AreEqual(first.EllipseAlphaSecond, plan.EllipseAlphaSecond);
        }
    }

    [TestMethod]
    public void MixtureFitAndGridAssignmentAreTheSameForEveryDegreeOfParallelism()
    {
        var (x, y, _) = GaussianMixture2DTests.Sample(4000, 13);
        var fits = Degrees.Select(d => GaussianMixture2D.Fit(x, y, 40, seed: 5, new MixtureFitOptions { MaxDegreeOfParallelism = d, MaxPoints = 10_000 })).ToArray();
        foreach (var fit in fits.Skip(1))
        {
            CollectionAssert.AreEqual(Bits(fits[0].Components), Bits(fit.Components));
            CollectionAssert.AreEqual(fits[0].Weights.Select(BitConverter.DoubleToInt64Bits).ToArray(), fit.Weights.Select(BitConverter.DoubleToInt64Bits).ToArray());
        }
        var gridded = Degrees.Select(d => fits[0].AssignAll(x, y, exactBudget: 0, maxDegreeOfParallelism: d)).ToArray();
        foreach (var assignments in gridded.Skip(1)) CollectionAssert.AreEqual(gridded[0], assignments);
    }

    [TestMethod]
    public void BicChoiceIsTheSameForEveryDegreeOfParallelism()
    {
        var (x, y, _) = GaussianMixture2DTests.Sample(400, 5);
        var runs = Degrees.Select(d => GaussianMixture2D.FitByBic(x, y, new[] { 1, 2, 3, 4, 5, 6 }, seed: 2, new MixtureFitOptions { MaxDegreeOfParallelism = d })).ToArray();
        foreach (var run in runs.Skip(1))
        {
            CollectionAssert.AreEqual(runs[0].Scores.Select(s => (s.K, BitConverter.DoubleToInt64Bits(s.Bic))).ToArray(),
                run.Scores.Select(s => (s.K, BitConverter.DoubleToInt64Bits(s.Bic))).ToArray());
            CollectionAssert.AreEqual(Bits(runs[0].Best.Components), Bits(run.Best.Components));
        }
    }
}
