using MLNet.Bayesian.Ood;
using static TorchSharp.torch;

namespace MLNet.Bayesian.Tests.Ood;

[TestClass]
public sealed class FeatureGaussiansTests
{
    /// <summary>
    /// Class 0 at (0, 0) and class 1 at (10, 0), each with points (+-1, 0) and (0, +-2) around its mean: the pooled
    /// covariance is diag(0.5, 2). The point (3, 2) is sqrt(3^2/0.5 + 2^2/2) = sqrt(20) from class 0 and
    /// sqrt(7^2/0.5 + 2) = sqrt(100) from class 1, so its distance is sqrt(20).
    /// </summary>
    [TestMethod]
    public void DistanceIsTheMahalanobisDistanceToTheNearestClassOnAHandComputedCase()
    {
        var points = new float[] { 1, 0, -1, 0, 0, 2, 0, -2, 11, 0, 9, 0, 10, 2, 10, -2 };
        var labels = new[] { 0, 0, 0, 0, 1, 1, 1, 1 };
        using var features = tensor(points, new long[] { 8, 2 });
        var fit = FeatureGaussians.Fit(features, labels, classes: 2, shrinkage: 1e-9);
        Assert.AreEqual(2, fit.Dimension);
        CollectionAssert.AreEqual(new[] { 0, 1 }, fit.FittedClasses);
        Assert.AreEqual(Math.Sqrt(20), fit.Distance(new float[] { 3, 2 }), 1e-5);
        Assert.AreEqual(Math.Sqrt(1 / 0.5 + 1 / 2.0), fit.Distance(new float[] { 9, 1 }), 1e-5, "(9, 1) is (-1, 1) from class 1");
        Assert.AreEqual(0, fit.Distance(new float[] { 10, 0 }), 1e-4);
        using var probe = tensor(new float[] { 3, 2, 9, 1, 10, 0, -40, 7 }, new long[] { 4, 2 });
        var fromTensors = fit.Distances(probe).data<float>().ToArray();
        var reference = new[] { fit.Distance(new float[] { 3, 2 }), fit.Distance(new float[] { 9, 1 }), fit.Distance(new float[] { 10, 0 }), fit.Distance(new float[] { -40, 7 }) };
        for (int i = 0; i < 4; i++) Assert.AreEqual(reference[i], fromTensors[i], 1e-3 * Math.Max(1, reference[i]), $"row {i}");
        Assert.AreEqual(Math.Sqrt(40 * 40 / 0.5 + 49 / 2.0), reference[3], 1e-3);
    }

    /// <summary>Three planted classes in 4-D with a correlated covariance: the fit recovers their Mahalanobis geometry.</summary>
    [TestMethod]
    public void FitRecoversPlantedClassGaussians()
    {
        var rng = new Random(3);
        double[,] c = { { 1.0, 0, 0, 0 }, { 0.8, 0.6, 0, 0 }, { 0, 0.5, 2.0, 0 }, { 0.3, 0, 0.1, 0.2 } };   // Cholesky factor of the true covariance
        double[][] means = { new double[] { 0, 0, 0, 0 }, new double[] { 5, -3, 1, 0 }, new double[] { -4, 2, 6, 1 } };
        const int n = 30_000;
        var values = new float[n * 4];
        var labels = new int[n];
        for (int i = 0; i < n; i++)
        {
            labels[i] = i % 3;
            var e = Enumerable.Range(0, 4).Select(_ => Normal(rng)).ToArray();
            for (int r = 0; r < 4; r++)
            {
                double v = means[labels[i]][r];
                for (int k = 0; k <= r; k++) v += c[r, k] * e[k];
                values[i * 4 + r] = (float)v;
            }
        }
        using var features = tensor(values, new long[] { n, 4 });
        var fit = FeatureGaussians.Fit(features, labels, classes: 3, shrinkage: 1e-9);
        // A point at whitened offset (1, -2, 0.5, 1) from class 1 lies sqrt(6.25) = 2.5 from it (and farther from the others).
        double[] offset = { 1, -2, 0.5, 1 };
        var point = new float[4];
        for (int r = 0; r < 4; r++)
        {
            double v = means[1][r];
            for (int k = 0; k <= r; k++) v += c[r, k] * offset[k];
            point[r] = (float)v;
        }
        Assert.AreEqual(2.5, fit.Distance(point), 0.05);
        // Images like the training data: the squared distance to their own class is chi-square with 4 degrees of freedom (mean 4).
        double meanSquared = Enumerable.Range(0, 2000).Average(i => Math.Pow(fit.Distance(values.AsSpan(i * 4, 4)), 2));
        Assert.AreEqual(4, meanSquared, 0.35);
    }

    [TestMethod]
    public void AClassWithoutImagesIsLeftOutAndBadInputIsRefused()
    {
        using var features = tensor(new float[] { 0, 0, 1, 1, 4, 4, 5, 5 }, new long[] { 4, 2 });
        var fit = FeatureGaussians.Fit(features, new[] { 0, 0, 2, 2 }, classes: 3);
        CollectionAssert.AreEqual(new[] { 0, 2 }, fit.FittedClasses, "class 1 had no image, so it has no mean");
        Assert.IsTrue(double.IsFinite(fit.Distance(new float[] { 100, -100 })), "the ridge keeps a rank-deficient covariance invertible");

        Assert.ThrowsExactly<ArgumentException>(() => FeatureGaussians.Fit(features, new[] { 0, 0, 3, 3 }, classes: 3));
        Assert.ThrowsExactly<ArgumentException>(() => FeatureGaussians.Fit(features, new[] { 0, 0, 1 }, classes: 3));
        using var nan = tensor(new float[] { 0, float.NaN, 1, 1 }, new long[] { 2, 2 });
        StringAssert.Contains(Assert.ThrowsExactly<ArgumentException>(() => FeatureGaussians.Fit(nan, new[] { 0, 1 }, classes: 2)).Message, "finite");
        Assert.ThrowsExactly<ArgumentException>(() => fit.Distance(new float[] { 1, 2, 3 }));
        Assert.ThrowsExactly<ArgumentException>(() => FeatureGaussians.FromStored(2, new float[3], new float[2], new[] { 0 }, 1));
    }

    static double Normal(Random rng) => Math.Sqrt(-2 * Math.Log(1 - rng.NextDouble())) * Math.Cos(2 * Math.PI * rng.NextDouble());
}
