using System.Numerics;
using MLNet.Bayesian.Posterior;

namespace MLNet.Bayesian.Tests.Posterior;

/// <summary>The fused float-vector EM against a plain double EM written out here, from the same start on the same points.</summary>
[TestClass]
public sealed class MixtureEmTests
{
    const double Floor = 1e-6;

    /// <summary>Textbook EM: the full n x K responsibility matrix in double, then weighted means and covariances.</summary>
    static double ReferenceIteration(double[] x, double[] y, Gaussian2[] comps, double[] weights)
    {
        int n = x.Length, k = comps.Length;
        var resp = new double[n, k];
        double ll = 0;
        for (int i = 0; i < n; i++)
        {
            double max = double.NegativeInfinity;
            for (int c = 0; c < k; c++)
            {
                resp[i, c] = Math.Log(weights[c]) + comps[c].LogDensity(x[i], y[i]);
                max = Math.Max(max, resp[i, c]);
            }
            double sum = 0;
            for (int c = 0; c < k; c++) sum += resp[i, c] = Math.Exp(resp[i, c] - max);
            for (int c = 0; c < k; c++) resp[i, c] /= sum;
            ll += max + Math.Log(sum);
        }
        for (int c = 0; c < k; c++)
        {
            double nk = 0, mx = 0, my = 0;
            for (int i = 0; i < n; i++) { nk += resp[i, c]; mx += resp[i, c] * x[i]; my += resp[i, c] * y[i]; }
            mx /= nk; my /= nk;
            double sxx = 0, sxy = 0, syy = 0;
            for (int i = 0; i < n; i++)
            {
                double dx = x[i] - mx, dy = y[i] - my;
                sxx += resp[i, c] * dx * dx; sxy += resp[i, c] * dx * dy; syy += resp[i, c] * dy * dy;
            }
            comps[c] = new Gaussian2(mx, my, sxx / nk + Floor, sxy / nk, syy / nk + Floor);
            weights[c] = nk / n;
        }
        return ll;
    }

    /// <summary>The planted three blobs, standardised as Fit standardises them.</summary>
    static (double[] X, double[] Y) Points()
    {
        var (x, y, _) = GaussianMixture2DTests.Sample(700, 21);
        return (Standardise(x), Standardise(y));
    }

    static double[] Standardise(double[] v)
    {
        double m = v.Average(), s = Math.Sqrt(v.Select(a => (a - m) * (a - m)).Average());
        return v.Select(a => (a - m) / s).ToArray();
    }

    [TestMethod]
    [DataRow(3)]
    [DataRow(13)]
    public void FusedEmFollowsThePlainEm(int k)
    {
        var (x, y) = Points();
        // A start from every (n / k)-th point, as k-means++ would pick real points; 13 components leave a partly padded vector block.
        var start = Enumerable.Range(0, k).Select(c => new Gaussian2(x[c * x.Length / k], y[c * x.Length / k], 0.3, 0.05, 0.2)).ToArray();
        var fusedComps = (Gaussian2[])start.Clone();
        var referenceComps = (Gaussian2[])start.Clone();
        var fusedWeights = Enumerable.Repeat(1.0 / k, k).ToArray();
        var referenceWeights = (double[])fusedWeights.Clone();
        var em = new MixtureEm(x, y, k, maxDegreeOfParallelism: -1);
        for (int iter = 0; iter < 25; iter++)
        {
            double fused = em.Iterate(fusedComps, fusedWeights, Floor);
            double reference = ReferenceIteration(x, y, referenceComps, referenceWeights);
            Assert.AreEqual(reference, fused, 1e-5 * Math.Abs(reference) + 1e-3, $"log-likelihood at iteration {iter}");
        }
        for (int c = 0; c < k; c++)
        {
            var (f, r) = (fusedComps[c], referenceComps[c]);
            Assert.AreEqual(r.Mx, f.Mx, 1e-4, $"component {c} mean x");
            Assert.AreEqual(r.My, f.My, 1e-4, $"component {c} mean y");
            Assert.AreEqual(r.Sxx, f.Sxx, 1e-4 * r.Sxx + 1e-7, $"component {c} var x");
            Assert.AreEqual(r.Sxy, f.Sxy, 1e-4 * Math.Sqrt(r.Sxx * r.Syy) + 1e-7, $"component {c} cov xy");
            Assert.AreEqual(r.Syy, f.Syy, 1e-4 * r.Syy + 1e-7, $"component {c} var y");
            Assert.AreEqual(referenceWeights[c], fusedWeights[c], 1e-5, $"component {c} weight");
        }
    }

    [TestMethod]
    public void VectorExpMatchesMathExpOverTheUsedRange()
    {
        double worst = 0;
        for (double d = -87; d <= 0; d += 0.0037)
        {
            float v = (float)d;
            double exact = Math.Exp(v);
            worst = Math.Max(worst, Math.Abs(MixtureEm.ExpNonPositive(new Vector<float>(v))[0] - exact) / exact);
        }
        Assert.IsTrue(worst < 2e-7, $"relative error up to {worst:E2}");
    }
}
