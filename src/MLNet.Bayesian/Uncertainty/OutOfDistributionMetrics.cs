namespace MLNet.Bayesian.Uncertainty;

/// <summary>
/// How well a score separates out-of-distribution inputs (positives) from in-distribution ones, where a
/// higher score means "more likely out of distribution" (entropy, mutual information, or -confidence).
/// </summary>
public sealed record OutOfDistributionMetrics(double Auroc, double Aupr, double FprAt95Tpr)
{
    /// <summary>Computes AUROC (ties count half), AUPR (average precision, OOD positive) and FPR at 95% TPR.</summary>
    public static OutOfDistributionMetrics Compute(IReadOnlyList<float> inDistribution, IReadOnlyList<float> outOfDistribution)
    {
        if (inDistribution.Count == 0 || outOfDistribution.Count == 0)
            throw new ArgumentException("Both the in-distribution and the out-of-distribution scores must be non-empty.");
        var all = inDistribution.Select(s => (Score: (double)s, Positive: false))
            .Concat(outOfDistribution.Select(s => (Score: (double)s, Positive: true)))
            .OrderByDescending(p => p.Score).ToArray();
        double positives = outOfDistribution.Count, negatives = inDistribution.Count;

        // Walk thresholds from high to low, one group of equal scores at a time.
        double tp = 0, fp = 0, auroc = 0, aupr = 0, fprAt95 = 1;
        bool reached95 = false;
        for (int i = 0; i < all.Length;)
        {
            int j = i;
            double groupTp = 0, groupFp = 0;
            while (j < all.Length && all[j].Score == all[i].Score)
            {
                if (all[j].Positive) groupTp++; else groupFp++;
                j++;
            }
            // Trapezoid in ROC space: a tied group is a straight segment (ties count half).
            auroc += groupFp / negatives * (tp + groupTp / 2) / positives;
            tp += groupTp; fp += groupFp;
            if (groupTp > 0) aupr += groupTp / positives * (tp / (tp + fp));
            if (!reached95 && tp / positives >= 0.95) { fprAt95 = fp / negatives; reached95 = true; }
            i = j;
        }
        return new OutOfDistributionMetrics(auroc, aupr, fprAt95);
    }
}
