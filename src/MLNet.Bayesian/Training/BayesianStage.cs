namespace MLNet.Bayesian.Training;

/// <summary>The stages of 2DGBNN (2dgbnn.md), and the final state of the baselines' networks (<see cref="BayesianMethod"/>).</summary>
public enum BayesianStage
{
    /// <summary>Stage 0: a plain network with point-estimate weights.</summary>
    Deterministic,
    /// <summary>Stage 1: one Gaussian per weight.</summary>
    MeanField,
    /// <summary>Stage 3: weights drawn from the shared 2-D Gaussian mixture posterior.</summary>
    Shared,
    /// <summary>Monte Carlo dropout (<see cref="BayesianMethod.McDropout"/>): trained weights, masked per draw.</summary>
    McDropout,
    /// <summary>Deep ensemble (<see cref="BayesianMethod.DeepEnsemble"/>): draw s is member s mod M.</summary>
    DeepEnsemble,
}
