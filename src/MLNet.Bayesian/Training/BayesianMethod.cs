namespace MLNet.Bayesian.Training;

/// <summary>
/// How the trainer makes a classifier that reports its uncertainty. Every method gives the same output columns
/// (probabilities, confidence, predictive and expected entropy, mutual information), so a pipeline can switch
/// between them by this one option.
/// </summary>
public enum BayesianMethod
{
    /// <summary>
    /// 2DGBNN (the default): deterministic training, mean-field VI, then VI on the shared 2-D Gaussian mixture
    /// posterior. S posterior draws per prediction (<see cref="TrainerOptions.PredictionSamples"/>).
    /// </summary>
    TwoDGbnn,
    /// <summary>
    /// Monte Carlo dropout: one network trained with dropout on the input of every Conv2d (whole input channels) and
    /// Linear layer (input features) but the first, for DeterministicEpochs + MeanFieldEpochs + SharedEpochs epochs
    /// (2DGBNN's budget of passes over the data), rate <see cref="TrainerOptions.DropoutRate"/>. Prediction averages S
    /// seeded dropout masks. Costs one network's training and parameters.
    /// </summary>
    McDropout,
    /// <summary>
    /// Deep ensemble: <see cref="TrainerOptions.EnsembleMembers"/> deterministic networks trained with seeds seed,
    /// seed + 1, ... for DeterministicEpochs each. Prediction averages the members, so S is the number of members
    /// whatever <see cref="TrainerOptions.PredictionSamples"/> says. Costs M times the training, parameters and scoring
    /// of one network.
    /// </summary>
    DeepEnsemble,
}
