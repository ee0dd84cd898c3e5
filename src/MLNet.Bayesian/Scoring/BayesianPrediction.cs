using MLNet.Bayesian.Uncertainty;

namespace MLNet.Bayesian.Scoring;

/// <summary>
/// A scored row with the default column names, for <c>mlContext.Data.CreateEnumerable</c> and
/// <c>PredictionEngine</c> on a model with a Bayesian classifier (in memory or loaded from its zip).
/// </summary>
public class BayesianPrediction
{
    /// <summary>The predicted class as a key: 1-based index into the training label's values.</summary>
    public uint PredictedLabel { get; set; }
    /// <summary>Posterior-mean class probabilities, in key order.</summary>
    public float[] Score { get; set; } = Array.Empty<float>();
    /// <summary>Max of <see cref="Score"/>.</summary>
    public float Confidence { get; set; }
    /// <summary>Total uncertainty, nats.</summary>
    public float PredictiveEntropy { get; set; }
    /// <summary>Aleatoric uncertainty, nats.</summary>
    public float ExpectedEntropy { get; set; }
    /// <summary>Epistemic uncertainty, nats.</summary>
    public float MutualInformation { get; set; }
    /// <summary>Distance of the image's features to the nearest class of the training images: high for unfamiliar images.</summary>
    public float FeatureDistance { get; set; }
    /// <summary>Free energy of the logits, -log sum exp, mean over samples: high for unfamiliar images.</summary>
    public float Energy { get; set; }

    /// <summary>The value of one uncertainty score.</summary>
    public float Value(UncertaintyScore score) => score switch
    {
        UncertaintyScore.Confidence => Confidence,
        UncertaintyScore.PredictiveEntropy => PredictiveEntropy,
        UncertaintyScore.ExpectedEntropy => ExpectedEntropy,
        UncertaintyScore.MutualInformation => MutualInformation,
        UncertaintyScore.FeatureDistance => FeatureDistance,
        _ => Energy,
    };
}
