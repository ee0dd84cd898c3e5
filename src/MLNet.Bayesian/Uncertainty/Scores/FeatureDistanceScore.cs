using static TorchSharp.torch;

namespace MLNet.Bayesian.Uncertainty.Scores;

/// <summary>
/// Mahalanobis distance of the image's features to the nearest class of the training images (<see cref="Ood.FeatureGaussians"/>,
/// which the scorer runs on the tapped layer's input): high for unfamiliar images. 0 for a model without a feature fit.
/// </summary>
internal sealed class FeatureDistanceScore : ScoreDescriptor
{
    public override UncertaintyScore Score => UncertaintyScore.FeatureDistance;
    public override bool HighMeansUncertain => true;
    public override string Unit => "Mahalanobis distance to the nearest class";
    public override string Meaning =>
        "Mahalanobis distance of the image's features to the nearest class of the training images: about sqrt(D) for familiar images, more for unfamiliar ones";

    internal override Tensor Compute(ScoreInputs inputs) => inputs.FeatureDistance?.alias() ?? inputs.Zeros();

    internal override string Export(ScoreGraphInputs inputs) => inputs.FeatureDistance;
}
