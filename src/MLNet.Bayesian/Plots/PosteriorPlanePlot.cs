using MLNet.Bayesian.Posterior;
using SkiaSharp;

namespace MLNet.Bayesian.Plots;

/// <summary>
/// The 2-D posterior plane of one layer, as in the 2DGBNN paper's figures: every weight's stage-1 posterior
/// as a point (mu, log sigma), the fitted components it shares as 2-sigma ellipses, and the weights kept
/// individual (outliers) in red.
/// </summary>
internal static class PosteriorPlanePlot
{
    /// <summary>
    /// Draws layer <paramref name="layer"/> (stage-1 points from BayesianNetwork.PosteriorPoints) with the components
    /// and outliers of <paramref name="plan"/>. At most <paramref name="maxPoints"/> inliers are drawn (an even
    /// subsample); every outlier and every component used by the layer is drawn.
    /// </summary>
    public static void Draw(PosteriorLayerPoints layer, SharedPosteriorPlan plan, string path, int maxPoints = 20000)
    {
        ArgumentNullException.ThrowIfNull(layer);
        ArgumentNullException.ThrowIfNull(plan);
        var slice = plan.Layers.FirstOrDefault(l => l.Name == layer.Name)
            ?? throw new ArgumentException($"The plan has no layer '{layer.Name}'; it has {string.Join(", ", plan.Layers.Select(l => l.Name))}.");
        if (slice.Count != layer.Mu.Length)
            throw new ArgumentException($"Layer '{layer.Name}' has {layer.Mu.Length} points; the plan holds {slice.Count} weights for it.");

        var outlier = new bool[layer.Mu.Length];
        foreach (int p in plan.OutlierPositions)
            if (p >= slice.Offset && p < slice.Offset + slice.Count) outlier[p - slice.Offset] = true;
        var used = new HashSet<int>();
        for (long i = 0; i < slice.Count; i++)
            if (!outlier[i]) used.Add(plan.ComponentOf(slice.Offset + i));

        int inliers = outlier.Count(o => !o), stride = Math.Max(1, (inliers + maxPoints - 1) / maxPoints);
        var (ix, iy, ox, oy) = (new List<double>(), new List<double>(), new List<double>(), new List<double>());
        for (int i = 0, seen = 0; i < layer.Mu.Length; i++)
        {
            double y = Math.Log(Math.Max(layer.Sigma[i], 1e-30f));
            if (outlier[i]) { ox.Add(layer.Mu[i]); oy.Add(y); }
            else if (seen++ % stride == 0) { ix.Add(layer.Mu[i]); iy.Add(y); }
        }
        var ellipses = used.OrderBy(k => k).Select(k => plan.Components[k])
            .Select(c => new Chart.Ellipse(c.Mx, c.My, c.Sxx, c.Sxy, c.Syy, 2)).ToList();
        new Chart($"Posterior plane of {layer.Name} ({layer.Mu.Length:N0} weights)", "mu", "log sigma")
            .Points($"weights ({(stride > 1 ? $"1 in {stride}" : "all")})", ix.ToArray(), iy.ToArray(), new SKColor(60, 60, 60, 140), 1.2f)
            .Points($"outliers ({ox.Count:N0})", ox.ToArray(), oy.ToArray(), new SKColor(214, 39, 40, 200), 1.8f)
            .Ellipses($"components ({ellipses.Count}), 2 sigma", ellipses, new SKColor(31, 119, 180, 170))
            .SavePng(path);
    }
}
