namespace MLNet.Bayesian.Uncertainty;

/// <summary>Selective prediction by one score: accuracy of the most certain fraction, the threshold that keeps it, AURC.</summary>
public sealed record SelectiveMetrics(double AccuracyAtCoverage, double ThresholdAtCoverage, double Aurc);

/// <summary>
/// Everything measured on labelled scored rows: accuracy, NLL, ECE, Brier, the reliability diagram, selective
/// prediction by every uncertainty score at one coverage, and, when out-of-distribution rows are given, how well
/// each score tells them apart (AUROC, AUPR, FPR at 95% TPR) and what share of them each score's threshold flags.
/// </summary>
public sealed record UncertaintyReport(
    ClassificationMetrics Classification, IReadOnlyList<ReliabilityBin> Reliability, double Coverage,
    IReadOnlyDictionary<UncertaintyScore, SelectiveMetrics> Selective,
    IReadOnlyDictionary<UncertaintyScore, OutOfDistributionMetrics>? OutOfDistribution,
    IReadOnlyDictionary<UncertaintyScore, double>? OutOfDistributionFlagged);

/// <summary>The one evaluation path: the command line's evaluate, the benchmark and ML.NET's EvaluateWithUncertainty use it.</summary>
public static class UncertaintyEvaluator
{
    /// <summary>Evaluates <paramref name="inDistribution"/> (rows without a label are skipped) at <paramref name="coverage"/>.</summary>
    public static UncertaintyReport Evaluate(ScoredRows inDistribution, double coverage, ScoredRows? outOfDistribution = null)
    {
        if (coverage <= 0 || coverage > 1) throw new ArgumentOutOfRangeException(nameof(coverage), "must be in (0, 1]");
        var labelled = Enumerable.Range(0, inDistribution.Count).Where(i => inDistribution.Labels[i] >= 0).ToArray();
        if (labelled.Length == 0) throw new ArgumentException("No scored row has a label to evaluate against.");
        int k = inDistribution.Classes;
        var probabilities = labelled.SelectMany(i => inDistribution.Probabilities.Skip(i * k).Take(k)).ToArray();
        var labels = labelled.Select(i => inDistribution.Labels[i]).ToArray();
        var correct = labelled.Select(i => inDistribution.Predicted(i) == inDistribution.Labels[i]).ToArray();

        var selective = new Dictionary<UncertaintyScore, SelectiveMetrics>();
        var curves = new Dictionary<UncertaintyScore, RiskCoverage>();
        foreach (var score in inDistribution.Scores.Keys)
        {
            var oriented = inDistribution.Uncertainty(score);
            var curve = RiskCoverage.Compute(correct, labelled.Select(i => oriented[i]).ToArray());
            curves[score] = curve;
            selective[score] = new SelectiveMetrics(curve.AccuracyAtCoverage(coverage), score.Uncertainty(curve.ThresholdAtCoverage(coverage)), curve.Aurc);
        }

        Dictionary<UncertaintyScore, OutOfDistributionMetrics>? ood = null;
        Dictionary<UncertaintyScore, double>? flagged = null;
        if (outOfDistribution is { Count: > 0 })
        {
            ood = new(); flagged = new();
            foreach (var score in inDistribution.Scores.Keys.Where(outOfDistribution.Scores.ContainsKey))
            {
                var orientedInside = inDistribution.Uncertainty(score);
                var inside = labelled.Select(i => orientedInside[i]).ToArray();
                var outside = outOfDistribution.Uncertainty(score);
                ood[score] = OutOfDistributionMetrics.Compute(inside, outside);
                double threshold = curves[score].ThresholdAtCoverage(coverage);
                flagged[score] = outside.Count(u => !float.IsFinite(u) || u > threshold) / (double)outside.Length;
            }
        }
        return new UncertaintyReport(ClassificationMetrics.Compute(probabilities, labels, k), ReliabilityDiagram.Compute(probabilities, labels, k),
            coverage, selective, ood, flagged);
    }

    /// <summary>The risk-coverage curve of one score on the labelled rows.</summary>
    public static RiskCoverage Curve(ScoredRows rows, UncertaintyScore score)
    {
        var labelled = Enumerable.Range(0, rows.Count).Where(i => rows.Labels[i] >= 0).ToArray();
        var oriented = rows.Uncertainty(score);
        return RiskCoverage.Compute(labelled.Select(i => rows.Predicted(i) == rows.Labels[i]).ToArray(), labelled.Select(i => oriented[i]).ToArray());
    }

    /// <summary>
    /// A review rule tuned on scored validation rows: give either the share of rows to decide automatically
    /// (<paramref name="coverage"/>) or the accuracy they must reach (<paramref name="targetAccuracy"/>; the largest
    /// coverage that reaches it is chosen). A score that is the same on every row cannot rank them and is refused.
    /// </summary>
    public static ReviewRule FitReviewRule(ScoredRows validation, UncertaintyScore score, double? coverage = null, double? targetAccuracy = null)
    {
        if ((targetAccuracy is null) == (coverage is null)) throw new ArgumentException("Give exactly one of targetAccuracy and coverage.");
        var values = validation.Values(score);
        if (values.Length > 0 && values.All(v => v == values[0]))
            throw new ArgumentException($"{score} is {values[0]} on every validation row, so it cannot tell certain rows from uncertain ones" +
                (score == UncertaintyScore.MutualInformation ? " (a deterministic model has no epistemic uncertainty); use PredictiveEntropy or Confidence." : "."));
        var curve = Curve(validation, score);
        if (coverage is double c)
            return new ReviewRule(score, score.Uncertainty(curve.ThresholdAtCoverage(c)), c, curve.AccuracyAtCoverage(c));
        var (kept, threshold) = curve.CoverageForAccuracy(targetAccuracy!.Value);
        return new ReviewRule(score, score.Uncertainty(threshold), kept, kept == 0 ? double.NaN : curve.AccuracyAtCoverage(kept));
    }
}
