namespace MLNet.Bayesian.Conformal;

/// <summary>The conformity score of split conformal prediction sets. The numbers are saved with a model: new ones go last.</summary>
public enum ConformalMethod
{
    /// <summary>
    /// Adaptive prediction sets (Romano, Sesia and Candès 2020): the probability mass of the classes ranked above the
    /// label, plus the label's own probability (times a uniform draw when randomised).
    /// </summary>
    Aps,
    /// <summary>
    /// Regularised APS (Angelopoulos et al. 2021): APS plus Lambda for each rank beyond KReg, which keeps the long tail
    /// of unlikely classes out of the sets.
    /// </summary>
    Raps,
    /// <summary>
    /// Least ambiguous set-valued classifier (Sadinle, Lei and Wasserman 2019), the default: the score is 1 - p of the
    /// label, so a set holds every class whose probability is at least one minus the threshold. It gives the smallest
    /// sets on average and needs no randomisation to reach its coverage, because the score is continuous; APS and RAPS
    /// adapt the set to how hard a row is, but with a confident network their deterministic sets hold many classes and
    /// their randomised ones decide confident rows by a draw (README, "Conformal prediction sets").
    /// </summary>
    Lac,
}
