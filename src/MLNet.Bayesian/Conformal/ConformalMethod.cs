namespace MLNet.Bayesian.Conformal;

/// <summary>The conformity score of split conformal prediction sets.</summary>
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
}
