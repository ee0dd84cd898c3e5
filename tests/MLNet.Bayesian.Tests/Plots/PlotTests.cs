using MLNet.Bayesian.Plots;
using MLNet.Bayesian.Posterior;
using SkiaSharp;

namespace MLNet.Bayesian.Tests.Plots;

[TestClass]
public sealed class PlotTests
{
    [TestMethod]
    public void EllipseOutlineLiesAtTheRequestedMahalanobisRadius()
    {
        var g = new Gaussian2(0.3, -5, 0.04, 0.015, 0.09);
        var ellipse = new Chart.Ellipse(g.Mx, g.My, g.Sxx, g.Sxy, g.Syy, Radius: 2);
        foreach (var (x, y) in ellipse.Outline(32))
            Assert.AreEqual(4.0, g.Mahalanobis2(x, y), 1e-9, $"({x}, {y})");
    }

    [TestMethod]
    public void TickLabelsTellCloseValuesApart()
    {
        // A posterior plane after a short run spans log sigma -6.89922 .. -6.89933: G3 printed "-6.9" five times.
        double step = (6.899334 - 6.899221) / 5;
        var labels = Enumerable.Range(0, 6).Select(i => Chart.Tick(-6.899334 + i * step, step)).ToList();
        Assert.AreEqual(6, labels.Distinct().Count(), string.Join(", ", labels));
        Assert.AreEqual("0.50", Chart.Tick(0.5, 0.2));
    }

    [TestMethod]
    public void PosteriorPlaneDrawsPointsOutliersAndComponents()
    {
        var rng = new Random(3);
        int n = 3000;
        var mu = new float[n];
        var sigma = new float[n];
        for (int i = 0; i < n; i++)
        {
            bool second = i % 2 == 1;
            mu[i] = (float)((second ? 0.05 : -0.05) + 0.01 * Gaussian(rng));
            sigma[i] = (float)Math.Exp((second ? -6 : -7) + 0.1 * Gaussian(rng));
        }
        for (int i = 0; i < 10; i++) mu[i] = 0.5f + 0.01f * i;   // |mu| above the 0.2 threshold: outliers
        var layer = new PosteriorLayerPoints("fc", new long[] { 30, 100 }, mu, sigma, null);
        var plan = SharedPosteriorBuilder.Build(new[] { layer }, new SharedPosteriorOptions { ComponentBudget = 4, GradientFraction = 0 });
        CollectionAssert.IsSubsetOf(Enumerable.Range(0, 10).ToArray(), plan.OutlierPositions);

        string folder = TestData.TempFolder();
        try
        {
            string path = Path.Combine(folder, "plane.png");
            PosteriorPlanePlot.Draw(layer, plan, path, maxPoints: 500);
            using var bitmap = SKBitmap.Decode(path);
            Assert.AreEqual(720, bitmap.Width);
            Assert.AreEqual(480, bitmap.Height);
            int red = 0, blue = 0, gray = 0;
            foreach (var p in bitmap.Pixels)
            {
                if (p.Red > 180 && p.Green < 120 && p.Blue < 120) red++;
                else if (p.Blue > 150 && p.Red < 120) blue++;
                else if (Math.Abs(p.Red - p.Green) < 10 && Math.Abs(p.Green - p.Blue) < 10 && p.Red < 200) gray++;
            }
            Assert.IsTrue(red > 0 && blue > 0 && gray > 0, $"red {red}, blue {blue}, gray {gray} pixels");

            var wrongName = new PosteriorLayerPoints("conv", layer.Shape, mu, sigma, null);
            var e = Assert.ThrowsExactly<ArgumentException>(() => PosteriorPlanePlot.Draw(wrongName, plan, path));
            StringAssert.Contains(e.Message, "'conv'");
            StringAssert.Contains(e.Message, "fc");
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    static double Gaussian(Random rng) => Math.Sqrt(-2 * Math.Log(1 - rng.NextDouble())) * Math.Cos(2 * Math.PI * rng.NextDouble());
}
