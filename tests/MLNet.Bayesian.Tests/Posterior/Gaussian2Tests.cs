using MLNet.Bayesian.Posterior;

namespace MLNet.Bayesian.Tests.Posterior;

[TestClass]
public sealed class Gaussian2Tests
{
    [TestMethod]
    public void W2OfIdenticalGaussiansIsZero()
    {
        var g = new Gaussian2(0.3, -2, 0.5, 0.1, 0.2);
        Assert.AreEqual(0, Gaussian2.W2Squared(g, g), 1e-12);
    }

    [TestMethod]
    public void W2WithEqualCovariancesIsSquaredMeanDistance()
    {
        var a = new Gaussian2(1, 2, 0.4, -0.1, 0.3);
        var b = a with { Mx = 4, My = -2 };
        Assert.AreEqual(9 + 16, Gaussian2.W2Squared(a, b), 1e-10);
    }

    [TestMethod]
    public void W2OfDiagonalCaseByHand()
    {
        // Diagonal: W2^2 = |dm|^2 + sum_i (sqrt(a_i) - sqrt(b_i))^2 = 1 + (2-1)^2 + (3-1)^2 = 6.
        var a = new Gaussian2(0, 0, 4, 0, 9);
        var b = new Gaussian2(1, 0, 1, 0, 1);
        Assert.AreEqual(6, Gaussian2.W2Squared(a, b), 1e-10);
    }

    [TestMethod]
    public void KLAgreesWithMonteCarlo()
    {
        var q = new Gaussian2(0.2, -1, 0.5, 0.2, 0.4);
        var p = new Gaussian2(-0.1, -0.5, 0.9, -0.1, 0.6);
        var (l11, l21, l22) = q.Cholesky();
        var rng = new Random(7);
        const int n = 400_000;
        double sum = 0;
        for (int i = 0; i < n; i++)
        {
            double e0 = Normal(rng), e1 = Normal(rng);
            double x = q.Mx + l11 * e0, y = q.My + l21 * e0 + l22 * e1;
            sum += q.LogDensity(x, y) - p.LogDensity(x, y);
        }
        double mc = sum / n, exact = Gaussian2.KL(q, p);
        Assert.IsTrue(exact > 0);
        Assert.AreEqual(exact, mc, 0.01, $"closed form {exact}, Monte Carlo {mc}");
        Assert.AreEqual(0, Gaussian2.KL(q, q), 1e-12);
    }

    [TestMethod]
    public void MomentMatchingKeepsMeanAndTotalVariance()
    {
        var a = new Gaussian2(0, 0, 1, 0, 1);
        var b = new Gaussian2(2, 0, 1, 0, 1);
        var m = Gaussian2.MomentMatch(new[] { a, b }, new[] { 1.0, 1.0 });
        Assert.AreEqual(1, m.Mx, 1e-12);
        Assert.AreEqual(2, m.Sxx, 1e-12, "within variance 1 + between variance 1");
        Assert.AreEqual(1, m.Syy, 1e-12);
    }

    internal static double Normal(Random rng) => Math.Sqrt(-2 * Math.Log(1 - rng.NextDouble())) * Math.Cos(2 * Math.PI * rng.NextDouble());
}
