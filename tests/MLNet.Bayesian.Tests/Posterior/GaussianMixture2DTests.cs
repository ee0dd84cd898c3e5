using MLNet.Bayesian.Posterior;

namespace MLNet.Bayesian.Tests.Posterior;

[TestClass]
public sealed class GaussianMixture2DTests
{
    static readonly (double X, double Y, double Sx, double Sy, double Rho)[] Planted =
    {
        (-3, 0, 0.5, 0.3, 0.5), (3, 1, 0.4, 0.6, -0.3), (0, 5, 0.7, 0.4, 0.0),
    };

    internal static (double[] X, double[] Y, int[] Truth) Sample(int perComponent, int seed)
    {
        var rng = new Random(seed);
        var xs = new List<double>(); var ys = new List<double>(); var truth = new List<int>();
        for (int c = 0; c < Planted.Length; c++)
        {
            var (mx, my, sx, sy, rho) = Planted[c];
            for (int i = 0; i < perComponent; i++)
            {
                double e0 = Gaussian2Tests.Normal(rng), e1 = Gaussian2Tests.Normal(rng);
                xs.Add(mx + sx * e0);
                ys.Add(my + sy * (rho * e0 + Math.Sqrt(1 - rho * rho) * e1));
                truth.Add(c);
            }
        }
        return (xs.ToArray(), ys.ToArray(), truth.ToArray());
    }

    [TestMethod]
    public void EmRecoversPlantedMixture()
    {
        var (x, y, _) = Sample(1000, 3);
        var gmm = GaussianMixture2D.Fit(x, y, 3, seed: 1);
        foreach (var (mx, my, sx, sy, rho) in Planted)
        {
            var nearest = gmm.Components.OrderBy(c => Math.Pow(c.Mx - mx, 2) + Math.Pow(c.My - my, 2)).First();
            Assert.AreEqual(mx, nearest.Mx, 0.1);
            Assert.AreEqual(my, nearest.My, 0.1);
            Assert.AreEqual(sx * sx, nearest.Sxx, 0.1 * sx * sx + 0.02);
            Assert.AreEqual(rho * sx * sy, nearest.Sxy, 0.05);
        }
        foreach (double w in gmm.Weights) Assert.AreEqual(1.0 / 3, w, 0.03);
    }

    [TestMethod]
    public void BicPicksThePlantedCount()
    {
        var (x, y, _) = Sample(400, 5);
        var (best, scores) = GaussianMixture2D.FitByBic(x, y, new[] { 1, 2, 3, 4, 5, 6 }, seed: 2);
        Assert.AreEqual(3, best.Count, string.Join("; ", scores.Select(s => $"K={s.K}: {s.Bic:F1}")));
    }

    [TestMethod]
    public void SameSeedSameFit()
    {
        var (x, y, _) = Sample(300, 9);
        var a = GaussianMixture2D.Fit(x, y, 4, seed: 11);
        var b = GaussianMixture2D.Fit(x, y, 4, seed: 11);
        CollectionAssert.AreEqual(a.Components, b.Components);
    }

    [TestMethod]
    public void AssignmentNamesTheTwoMostResponsibleComponents()
    {
        var gmm = GaussianMixture2D.FromComponents(new[] { new Gaussian2(0, 0, 1, 0, 1), new Gaussian2(4, 0, 1, 0, 1) }, new[] { 1.0, 1.0 });
        var a = gmm.Assign(1.9, 0);
        Assert.AreEqual(0, a.First);
        Assert.AreEqual(1, a.Second);
        Assert.AreEqual(1, a.FirstResponsibility + a.SecondResponsibility, 1e-12);
        Assert.AreEqual(1.9 * 1.9, a.Mahalanobis2ToFirst, 1e-12);
    }

    [TestMethod]
    public void GridIndexedAssignmentAgreesWithExactAssignment()
    {
        var (x, y, _) = Sample(3000, 12);
        var gmm = GaussianMixture2D.Fit(x, y, 40, seed: 3);
        var exact = gmm.AssignAll(x, y);
        var indexed = gmm.AssignAll(x, y, exactBudget: 0);
        int sameFirst = exact.Zip(indexed).Count(p => p.First.First == p.Second.First);
        int sameSecond = exact.Zip(indexed).Count(p => p.First.Second == p.Second.Second);
        Assert.IsTrue(sameFirst >= 0.999 * x.Length, $"{sameFirst} of {x.Length} first choices agree");
        Assert.IsTrue(sameSecond >= 0.99 * x.Length, $"{sameSecond} of {x.Length} second choices agree");
        double maxResponsibilityError = exact.Zip(indexed).Max(p => Math.Abs(p.First.FirstResponsibility - p.Second.FirstResponsibility));
        Assert.IsTrue(maxResponsibilityError < 0.01, $"responsibilities differ by up to {maxResponsibilityError}");
    }
}
