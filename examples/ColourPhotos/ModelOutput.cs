using MLNet.Bayesian.Scoring;

namespace ColourPhotos;

/// <summary>
/// What the model says about one photo: the predicted class's name, and from <see cref="BayesianPrediction"/> the
/// probabilities and every uncertainty score (Confidence, PredictiveEntropy, MutualInformation, FeatureDistance, Energy).
/// </summary>
public sealed class ModelOutput : BayesianPrediction
{
    /// <summary>Predicted class name.</summary>
    public string PredictedClass { get; set; } = "";
}
