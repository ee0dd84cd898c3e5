using MLNet.Bayesian.Uncertainty;

namespace MLNet.Bayesian.Scoring;

/// <summary>
/// Asks a <see cref="ReviewRule"/> about a scored row. Here rather than on the rule, so that the rule (Uncertainty) knows
/// nothing of the row types of the ML.NET columns (Scoring), which know the scores: no folder depends on the other both ways.
/// </summary>
public static class ReviewRuleExtensions
{
    /// <summary>Whether a scored row goes to a person (any score not a finite number always does).</summary>
    public static bool NeedsReview(this ReviewRule rule, BayesianPrediction row)
    {
        ArgumentNullException.ThrowIfNull(rule);
        ArgumentNullException.ThrowIfNull(row);
        return rule.NeedsReview(row.Value);
    }
}
