using MLNet.Bayesian.Uncertainty;

namespace MLNet.Bayesian.Plots;

/// <summary>PNG plots of uncertainty metrics: reliability diagram, risk-coverage curves, score histograms.</summary>
public static class UncertaintyPlots
{
    /// <summary>Accuracy per confidence bin against the diagonal of perfect calibration.</summary>
    public static void Reliability(IReadOnlyList<ReliabilityBin> bins, string path, string title = "Reliability diagram")
        => new Chart(title, "confidence", "accuracy")
            .Bars("accuracy per confidence bin", bins.Select(b => (b.Lower + b.Upper) / 2).ToArray(), bins.Select(b => b.Count == 0 ? 0 : b.Accuracy).ToArray())
            .Reference(0, 0, 1, 1).Limits(0, 1, 0, 1).SavePng(path);

    /// <summary>One risk-coverage curve per entry, labelled with its AURC.</summary>
    public static void RiskCoverage(IReadOnlyDictionary<string, RiskCoverage> curves, string path, string title = "Risk-coverage")
    {
        var chart = new Chart(title, "coverage (fraction decided automatically)", "error rate of the decided images");
        foreach (var (name, curve) in curves) chart.Line($"{name} (AURC {curve.Aurc:F4})", curve.Coverage, curve.Risk);
        chart.SavePng(path);
    }

    /// <summary>
    /// Normalised histograms (fraction of each series per bin) of non-negative scores, one line per series (name the data
    /// set in its key), with each of <paramref name="thresholds"/> drawn as a labelled vertical line.
    /// </summary>
    public static void Histogram(string title, IReadOnlyDictionary<string, float[]> series, string path, int bins = 30, string unit = "nats",
        IReadOnlyDictionary<string, double>? thresholds = null)
    {
        if (bins < 1) throw new ArgumentOutOfRangeException(nameof(bins), "at least one bin is needed");
        double max = series.Values.SelectMany(v => v).DefaultIfEmpty(1).Max();
        if (max <= 0) max = 1;
        double width = max / bins;
        var chart = new Chart(title, unit, "fraction of images");
        foreach (var (name, values) in series)
        {
            var counts = new double[bins];
            foreach (float v in values) counts[Math.Clamp((int)(v / width), 0, bins - 1)] += 1.0 / Math.Max(values.Length, 1);
            chart.Line(name, Enumerable.Range(0, bins).Select(i => (i + 0.5) * width).ToArray(), counts);
        }
        foreach (var (label, x) in thresholds ?? new Dictionary<string, double>())
            if (double.IsFinite(x)) chart.Marker(x, label);
        chart.SavePng(path);
    }
}
