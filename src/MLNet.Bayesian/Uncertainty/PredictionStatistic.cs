namespace MLNet.Bayesian.Uncertainty;

/// <summary>
/// The per-row values a Bayesian classifier computes from its S probability vectors (and from its logits and features). Both scoring backends
/// compute every one: <see cref="PredictiveDistribution"/> in memory and the exported ONNX graph.
/// </summary>
public enum PredictionStatistic
{
    /// <summary>Posterior-mean class probabilities (a vector of K).</summary>
    Probabilities,
    /// <summary>Arg max of the mean probabilities (a class index).</summary>
    PredictedClass,
    /// <summary>Max of the mean probabilities.</summary>
    Confidence,
    /// <summary>Entropy of the mean probabilities: total uncertainty, nats.</summary>
    PredictiveEntropy,
    /// <summary>Mean entropy of the per-sample probabilities: aleatoric part, nats.</summary>
    ExpectedEntropy,
    /// <summary>Predictive minus expected entropy: epistemic part, nats.</summary>
    MutualInformation,
    /// <summary>Mahalanobis distance of the image's features to the nearest class of the training images.</summary>
    FeatureDistance,
    /// <summary>-log sum_k exp(logit_k), averaged over the samples: the network's free energy of the image.</summary>
    Energy,
}
