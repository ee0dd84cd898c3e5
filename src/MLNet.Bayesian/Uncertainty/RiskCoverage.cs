namespace MLNet.Bayesian.Uncertainty;

/// <summary>
/// Selective prediction: keep the most certain predictions (lowest uncertainty first) and measure the
/// error rate (risk) of what is kept at every coverage. AURC is the mean risk over all coverages.
/// </summary>
public sealed class RiskCoverage
{
    RiskCoverage(double[] coverage, double[] risk, double[] thresholds)
    {
        Coverage = coverage; Risk = risk; Thresholds = thresholds;
    }

    /// <summary>Fraction of inputs kept, 1/n .. 1.</summary>
    public double[] Coverage { get; }
    /// <summary>Error rate among the kept inputs.</summary>
    public double[] Risk { get; }
    /// <summary>The uncertainty of the last input kept at each coverage.</summary>
    public double[] Thresholds { get; }
    /// <summary>Area under the risk-coverage curve (mean risk); lower is better.</summary>
    public double Aurc => Risk.Average();

    /// <summary>Builds the curve from per-input correctness and uncertainty (higher = less certain).</summary>
    public static RiskCoverage Compute(IReadOnlyList<bool> correct, IReadOnlyList<float> uncertainty)
    {
        if (correct.Count != uncertainty.Count) throw new ArgumentException("One uncertainty per prediction is needed.");
        if (correct.Count == 0) throw new ArgumentException("No predictions.");
        var order = Enumerable.Range(0, correct.Count).OrderBy(i => uncertainty[i]).ThenBy(i => i).ToArray();
        int n = order.Length;
        var coverage = new double[n]; var risk = new double[n]; var thresholds = new double[n];
        int errors = 0;
        for (int k = 0; k < n; k++)
        {
            if (!correct[order[k]]) errors++;
            coverage[k] = (k + 1.0) / n;
            risk[k] = errors / (k + 1.0);
            thresholds[k] = uncertainty[order[k]];
        }
        return new RiskCoverage(coverage, risk, thresholds);
    }

    /// <summary>Accuracy of the most certain fraction <paramref name="coverage"/> of inputs.</summary>
    public double AccuracyAtCoverage(double coverage)
    {
        if (coverage <= 0 || coverage > 1) throw new ArgumentOutOfRangeException(nameof(coverage), "must be in (0, 1]");
        int k = Math.Max(1, (int)Math.Ceiling(coverage * Risk.Length)) - 1;
        return 1 - Risk[k];
    }

    /// <summary>The uncertainty threshold that keeps <paramref name="coverage"/> of the inputs.</summary>
    public double ThresholdAtCoverage(double coverage)
    {
        if (coverage <= 0 || coverage > 1) throw new ArgumentOutOfRangeException(nameof(coverage), "must be in (0, 1]");
        return Thresholds[Math.Max(1, (int)Math.Ceiling(coverage * Thresholds.Length)) - 1];
    }

    /// <summary>The largest coverage whose kept inputs reach <paramref name="targetAccuracy"/>, with its threshold (0, -inf when none does).</summary>
    public (double Coverage, double Threshold) CoverageForAccuracy(double targetAccuracy)
    {
        for (int k = Risk.Length - 1; k >= 0; k--)
            if (1 - Risk[k] >= targetAccuracy && (k == Risk.Length - 1 || Thresholds[k] < Thresholds[k + 1]))
                return (Coverage[k], Thresholds[k]);
        return (0, double.NegativeInfinity);
    }
}
