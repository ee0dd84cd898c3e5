using MLNet.Bayesian.Posterior;

namespace MLNet.Bayesian.Training;

/// <summary>Optimisers the trainer offers.</summary>
public enum OptimizerKind
{
    /// <summary>Adam.</summary>
    Adam,
    /// <summary>SGD with momentum 0.9.</summary>
    Sgd,
}

/// <summary>Settings of the three training stages of 2DGBNN.</summary>
public sealed class TrainerOptions
{
    /// <summary>Epochs of deterministic training (stage 0).</summary>
    public int DeterministicEpochs = 3;
    /// <summary>Epochs of mean-field VI (stage 1); 0 stops after stage 0.</summary>
    public int MeanFieldEpochs = 1;
    /// <summary>Epochs of VI on the shared posterior (stage 3); with MeanFieldEpochs 0 this is ignored.</summary>
    public int SharedEpochs = 1;
    /// <summary>Stop after stage 1 (mean-field baseline) instead of building the shared posterior.</summary>
    public bool StopAfterMeanField = false;
    /// <summary>Images per batch.</summary>
    public int BatchSize = 128;
    /// <summary>Learning rate of stage 0.</summary>
    public double LearningRate = 1e-3;
    /// <summary>Learning rate of stage 1 (mean-field VI).</summary>
    public double BayesianLearningRate = 1e-3;
    /// <summary>Learning rate of stage 3. Lower than stage 1's: the empirical-Bayes prior of an outlier is its
    /// stage-1 posterior, whose scale (about 1e-3) is the size of one Adam step at 1e-3.</summary>
    public double SharedLearningRate = 1e-4;
    /// <summary>Optimiser.</summary>
    public OptimizerKind Optimizer = OptimizerKind.Adam;
    /// <summary>Cosine-anneal the learning rate to 0 over each stage.</summary>
    public bool CosineSchedule = true;
    /// <summary>Initial posterior scale of every weight in stage 1.</summary>
    public double InitialSigma = 1e-3;
    /// <summary>Scale of the zero-mean Gaussian prior of stage 1 (and of stage 3's zero-mean option).</summary>
    public double PriorSigma = 1.0;
    /// <summary>Multiplies KL / N in the ELBO.</summary>
    public double KLWeight = 1.0;
    /// <summary>Epochs over which the KL weight ramps linearly from 0 to KLWeight at the start of each variational stage (0: none).</summary>
    public int KLWarmupEpochs = 0;
    /// <summary>How the shared posterior is built.</summary>
    public SharedPosteriorOptions SharedPosterior = new();
    /// <summary>How component draws become weights.</summary>
    public SamplingVariant Variant = SamplingVariant.Hierarchical;
    /// <summary>Prior of stage 3.</summary>
    public SharedPrior Prior = SharedPrior.EmpiricalBayes;
    /// <summary>Between stage-3 epochs, merge components whose posteriors are closer than this squared W2 distance (0: never).</summary>
    public double RemergeThreshold = 0;
    /// <summary>Posterior samples averaged at prediction.</summary>
    public int PredictionSamples = 30;
    /// <summary>Zero padding for random-crop augmentation (0 disables).</summary>
    public int CropPadding = 2;
    /// <summary>Random horizontal flips (off by default: wrong for digits and text).</summary>
    public bool HorizontalFlip = false;
    /// <summary>Per-channel mean subtracted from pixels in [0, 1].</summary>
    public float[] NormalizeMean = { 0.5f };
    /// <summary>Per-channel divisor applied after the mean.</summary>
    public float[] NormalizeStd = { 0.5f };
    /// <summary>Seed of weights, shuffling, augmentation and sampling.</summary>
    public int Seed = 1;
    /// <summary>Stop a variational stage when validation NLL has not improved for this many epochs (0: never).</summary>
    public int EarlyStoppingPatience = 0;
}
