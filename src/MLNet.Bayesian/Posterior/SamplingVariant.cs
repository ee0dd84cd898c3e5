namespace MLNet.Bayesian.Posterior;

/// <summary>How a component draw becomes weight values (2dgbnn.md, stage 3).</summary>
public enum SamplingVariant
{
    /// <summary>One draw z_k per component; every member weight takes z_k[0] (the paper's stochastic weight sharing).</summary>
    Shared,
    /// <summary>The draw (a, b) gives a mean and a log-scale; each member draws a + exp(b) * eps_i with its own eps_i.</summary>
    Hierarchical,
}

/// <summary>The prior of the shared posterior's KL term.</summary>
public enum SharedPrior
{
    /// <summary>Empirical Bayes: each component as first fitted; each outlier its stage-1 posterior.</summary>
    EmpiricalBayes,
    /// <summary>Zero-mean: weight coordinate N(0, PriorSigma^2), log-scale coordinate as fitted; outliers N(0, PriorSigma^2).</summary>
    ZeroMean,
}
