using MLNet.Bayesian.Uncertainty;

namespace MLNet.Bayesian.Cli.Reports;

/// <summary>The PNG plots of an evaluation report.</summary>
internal static class ReportPlots
{
    public static void Reliability(IReadOnlyList<ReliabilityBin> bins, string path)
        => new LineChart("Reliability diagram", "confidence", "accuracy")
            .Bars("accuracy per confidence bin", bins.Select(b => (b.Lower + b.Upper) / 2).ToArray(), bins.Select(b => b.Count == 0 ? 0 : b.Accuracy).ToArray())
            .Reference(0, 0, 1, 1).Limits(0, 1, 0, 1).SavePng(path);

    public static void RiskCoverage(IReadOnlyDictionary<string, RiskCoverage> curves, string path)
    {
        var chart = new LineChart("Risk-coverage", "coverage (fraction decided automatically)", "error rate of the decided images");
        foreach (var (name, curve) in curves) chart.Line($"{name} (AURC {curve.Aurc:F4})", curve.Coverage, curve.Risk);
        chart.SavePng(path);
    }

    public static void Histogram(string title, IReadOnlyDictionary<string, float[]> series, string path, int bins = 30)
    {
        double max = series.Values.SelectMany(v => v).DefaultIfEmpty(1).Max();
        if (max <= 0) max = 1;
        double width = max / bins;
        var chart = new LineChart(title, "nats", "fraction of images");
        foreach (var (name, values) in series)
        {
            var counts = new double[bins];
            foreach (float v in values) counts[Math.Min((int)(v / width), bins - 1)] += 1.0 / Math.Max(values.Length, 1);
            chart.Line(name, Enumerable.Range(0, bins).Select(i => (i + 0.5) * width).ToArray(), counts);
        }
        chart.SavePng(path);
    }
}
