namespace MLNet.Bayesian.Uncertainty;

/// <summary>How a <see cref="ReviewRule"/> over several scores turns a row's scores into one decision.</summary>
public enum ScoreCombination
{
    /// <summary>
    /// Review when any score passes its own threshold, every threshold at the same validation rank: the rule's score is
    /// the highest rank. Easy to read, but the review budget is split between the scores, so each alone catches less.
    /// </summary>
    AnyScore,
    /// <summary>
    /// Fisher's method: each score's tail share p (the share of validation rows at least as uncertain) becomes -ln p, and
    /// the row goes to review when their sum passes one threshold. Moderate evidence from several scores adds up, and one
    /// extreme score is still enough on its own (each cut of the rule is where that score alone suffices). On the main job's
    /// model this caught more of every unfamiliar image set tried than any single score or <see cref="AnyScore"/>.
    /// </summary>
    Fisher,
}
