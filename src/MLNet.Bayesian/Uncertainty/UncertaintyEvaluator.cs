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
    IReadOnlyDictionary<UncertaintyScore, double>? OutOfDistributionFlagged)
{
    /// <summary>What a stored review rule does to these rows, when one was given.</summary>
    public ReviewRuleFigures? Rule { get; init; }
}

/// <summary>
/// A review rule applied to evaluation rows: the share of the in-distribution rows it decides automatically and
/// their accuracy, and, with out-of-distribution rows, the share of them it sends to review and how well its combined
/// score separates the two sets (null when the rule has no validation ranks, e.g. a threshold given by hand).
/// </summary>
public sealed record ReviewRuleFigures(string Rule, double Kept, double AccuracyOfKept, double? OutOfDistributionFlagged, OutOfDistributionMetrics? OutOfDistribution);

/// <summary>The one evaluation path: the command line's evaluate, the benchmark and ML.NET's EvaluateWithUncertainty use it.</summary>
public static class UncertaintyEvaluator
{
    /// <summary>Evaluates <paramref name="inDistribution"/> (rows without a label are skipped) at <paramref name="coverage"/>.</summary>
    public static UncertaintyReport Evaluate(ScoredRows inDistribution, double coverage, ScoredRows? outOfDistribution = null, ReviewRule? rule = null)
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
        ReviewRuleFigures? figures = null;
        if (rule is not null)
        {
            var kept = labelled.Where(i => !rule.NeedsReview(inDistribution, i)).ToArray();
            double? oodFlagged = outOfDistribution is { Count: > 0 }
                ? Enumerable.Range(0, outOfDistribution.Count).Count(i => rule.NeedsReview(outOfDistribution, i)) / (double)outOfDistribution.Count : null;
            OutOfDistributionMetrics? separation = null;
            if (outOfDistribution is { Count: > 0 } && rule.HasRanks)
            {
                var inside = rule.CombinedUncertainty(inDistribution);
                separation = OutOfDistributionMetrics.Compute(labelled.Select(i => inside[i]).ToArray(), rule.CombinedUncertainty(outOfDistribution));
            }
            figures = new ReviewRuleFigures(rule.ToString(), kept.Length / (double)labelled.Length,
                kept.Length == 0 ? double.NaN : kept.Count(i => inDistribution.Predicted(i) == inDistribution.Labels[i]) / (double)kept.Length, oodFlagged, separation);
        }
        return new UncertaintyReport(ClassificationMetrics.Compute(probabilities, labels, k), ReliabilityDiagram.Compute(probabilities, labels, k),
            coverage, selective, ood, flagged) { Rule = figures };
    }

    /// <summary>The risk-coverage curve of one score on the labelled rows.</summary>
    public static RiskCoverage Curve(ScoredRows rows, UncertaintyScore score)
    {
        var labelled = Enumerable.Range(0, rows.Count).Where(i => rows.Labels[i] >= 0).ToArray();
        var oriented = rows.Uncertainty(score);
        return RiskCoverage.Compute(labelled.Select(i => rows.Predicted(i) == rows.Labels[i]).ToArray(), labelled.Select(i => oriented[i]).ToArray());
    }

    /// <summary>
    /// A review rule on one score tuned on scored validation rows: give either the share of rows to decide automatically
    /// (<paramref name="coverage"/>) or the accuracy they must reach (<paramref name="targetAccuracy"/>; the largest
    /// coverage that reaches it is chosen). A score that is the same on every row cannot rank them and is refused.
    /// </summary>
    public static ReviewRule FitReviewRule(ScoredRows validation, UncertaintyScore score, double? coverage = null, double? targetAccuracy = null)
        => FitReviewRule(validation, new[] { score }, coverage, targetAccuracy);

    /// <summary>
    /// A review rule over several scores tuned on scored validation rows: each score becomes its validation rank (the
    /// share of validation rows at most as uncertain), the ranks are combined into the rule's score
    /// (<paramref name="combination"/>: the highest rank, or Fisher's sum of -ln(1 - rank)), and one cut on that keeps
    /// <paramref name="coverage"/> of the rows (or reaches <paramref name="targetAccuracy"/>). With AnyScore the cut is
    /// one threshold per score at that rank, so a row goes to review when any score exceeds its own threshold; with
    /// Fisher each score's threshold is where it alone reaches the cut. A score that never changes cannot rank rows:
    /// alone it is refused; among others it is left out (the rule's <see cref="ReviewRule.Scores"/> then lack it).
    /// </summary>
    public static ReviewRule FitReviewRule(ScoredRows validation, IReadOnlyList<UncertaintyScore> scores, double? coverage = null, double? targetAccuracy = null,
        int quantiles = 1001, ScoreCombination combination = ReviewRule.DefaultCombination)
    {
        if (!Enum.IsDefined(combination)) throw new ArgumentOutOfRangeException(nameof(combination), combination, "unknown score combination");
        ArgumentNullException.ThrowIfNull(scores);
        if ((targetAccuracy is null) == (coverage is null)) throw new ArgumentException("Give exactly one of targetAccuracy and coverage.");
        if (coverage is double given && (given <= 0 || given > 1)) throw new ArgumentOutOfRangeException(nameof(coverage), "must be in (0, 1]");
        if (scores.Count == 0) throw new ArgumentException("Name at least one score for the review rule.", nameof(scores));
        if (quantiles < 2) throw new ArgumentOutOfRangeException(nameof(quantiles), "at least two quantiles are needed");
        var labelled = Enumerable.Range(0, validation.Count).Where(i => validation.Labels[i] >= 0).ToArray();
        if (labelled.Length == 0) throw new ArgumentException("No validation row has a label to tune the review rule on.");
        var usable = new List<UncertaintyScore>();
        foreach (var score in scores.Distinct())
        {
            var values = validation.Values(score);
            if (values.Length > 0 && values.All(v => v == values[0]))
            {
                if (scores.Distinct().Count() == 1)
                    throw new ArgumentException($"{score} is {values[0]} on every validation row, so it cannot tell certain rows from uncertain ones" +
                        (score == UncertaintyScore.MutualInformation ? " (a deterministic model has no epistemic uncertainty); use PredictiveEntropy or Confidence." : "."));
                continue;
            }
            usable.Add(score);
        }
        if (usable.Count == 0) throw new ArgumentException($"{string.Join(", ", scores)} never change on the validation rows, so they cannot rank them.");

        int n = labelled.Length;
        var oriented = usable.ToDictionary(s => s, s => { var u = validation.Uncertainty(s); return labelled.Select(i => u[i]).ToArray(); });
        if (combination == ScoreCombination.Fisher) return FitFisherRule(validation, labelled, usable, oriented, coverage, targetAccuracy, quantiles);
        var combined = new float[n];
        Array.Fill(combined, float.NegativeInfinity);
        foreach (var score in usable)
        {
            var ranks = ValidationRanks(oriented[score]);
            for (int i = 0; i < n; i++) combined[i] = Math.Max(combined[i], ranks[i]);
        }
        var (cut, kept, accuracy) = CutCombined(validation, labelled, combined, coverage, targetAccuracy);
        var cuts = usable.Select(score =>
        {
            var u = oriented[score];
            var ranks = ValidationRanks(u);
            // The most uncertain validation value whose rank is within the cut: exactly the rows the combined cut keeps.
            double threshold = double.NegativeInfinity;
            for (int i = 0; i < n; i++) if (ranks[i] <= cut && float.IsFinite(u[i])) threshold = Math.Max(threshold, u[i]);
            return new ReviewCut(score, score.Uncertainty(threshold), QuantileTable(u, Math.Min(quantiles, n)));
        }).ToArray();
        return new ReviewRule(cuts, cut, kept, accuracy);
    }

    /// <summary>
    /// The Fisher rule: each score's -ln tail share is read from its stored quantile table (as the saved rule will read it),
    /// so that the cut fitted here is the cut applied later.
    /// </summary>
    static ReviewRule FitFisherRule(ScoredRows validation, int[] labelled, List<UncertaintyScore> usable, Dictionary<UncertaintyScore, float[]> oriented,
        double? coverage, double? targetAccuracy, int quantiles)
    {
        int n = labelled.Length;
        var tables = usable.ToDictionary(s => s, s => QuantileTable(oriented[s], Math.Min(quantiles, n)));
        var probe = new ReviewRule(usable.Select(s => new ReviewCut(s, 0, tables[s])).ToArray(), 0, 1, 1, ScoreCombination.Fisher);
        var combined = labelled.Select(i => (float)probe.CombinedUncertainty(s => validation.Values(s)[i])).ToArray();
        var (cut, kept, accuracy) = CutCombined(validation, labelled, combined, coverage, targetAccuracy);
        // One score alone reaches the cut at rank 1 - e^-cut; past the table's top it cannot (its threshold is then the top value).
        double alone = Math.Clamp(1 - Math.Exp(-cut), 0, 1);
        var cuts = usable.Select(s => new ReviewCut(s, s.Uncertainty(ValueAtRank(tables[s], alone)), tables[s])).ToArray();
        return new ReviewRule(cuts, cut, kept, accuracy, ScoreCombination.Fisher);
    }

    /// <summary>The cut on the combined score that keeps <paramref name="coverage"/> of the rows, or reaches <paramref name="targetAccuracy"/>.</summary>
    static (double Cut, double Kept, double Accuracy) CutCombined(ScoredRows validation, int[] labelled, float[] combined, double? coverage, double? targetAccuracy)
    {
        var curve = RiskCoverage.Compute(labelled.Select(i => validation.Predicted(i) == validation.Labels[i]).ToArray(), combined);
        if (coverage is double c) return (curve.ThresholdAtCoverage(c), c, curve.AccuracyAtCoverage(c));
        var (kept, cut) = curve.CoverageForAccuracy(targetAccuracy!.Value);
        return (cut, kept, kept == 0 ? double.NaN : curve.AccuracyAtCoverage(kept));
    }

    /// <summary>The value at <paramref name="rank"/> (0..1) of a quantile table, interpolated as <see cref="ReviewCut.Rank"/> reads it.</summary>
    static double ValueAtRank(float[] table, double rank)
    {
        double position = rank * (table.Length - 1);
        int lo = Math.Min((int)Math.Floor(position), table.Length - 1), hi = Math.Min(lo + 1, table.Length - 1);
        return table[lo] + (position - lo) * (table[hi] - table[lo]);
    }

    /// <summary>Each value's share of the values at or below it (ties share the highest rank; NaN and infinities rank above every finite value).</summary>
    static float[] ValidationRanks(float[] uncertainty)
    {
        int n = uncertainty.Length;
        var order = Enumerable.Range(0, n).OrderBy(i => float.IsFinite(uncertainty[i]) ? uncertainty[i] : float.PositiveInfinity).ToArray();
        var ranks = new float[n];
        for (int k = n - 1; k >= 0;)
        {
            int j = k;
            float v = uncertainty[order[k]];
            if (!float.IsFinite(v)) { ranks[order[k]] = float.PositiveInfinity; k--; continue; }
            while (j >= 0 && uncertainty[order[j]] == v) { ranks[order[j]] = (k + 1f) / n; j--; }
            k = j;
        }
        return ranks;
    }

    /// <summary><paramref name="count"/> equally spaced quantiles (ranks 0..1) of the finite values.</summary>
    static float[] QuantileTable(float[] uncertainty, int count)
    {
        var sorted = uncertainty.Where(float.IsFinite).Order().ToArray();
        if (sorted.Length == 0) return Array.Empty<float>();
        count = Math.Max(2, count);
        return Enumerable.Range(0, count).Select(j => sorted[(int)Math.Round(j * (sorted.Length - 1.0) / (count - 1))]).ToArray();
    }
}
