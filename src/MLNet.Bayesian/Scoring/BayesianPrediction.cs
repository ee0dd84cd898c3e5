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

    /// <summary>The value of one uncertainty score: the property named by its column (<see cref="ScoreDescriptor.ColumnName"/>).</summary>
    public float Value(UncertaintyScore score) => Getters[score](this);

    // One getter per row of the score table, found by column name once: a new score needs only its property here.
    static readonly IReadOnlyDictionary<UncertaintyScore, Func<BayesianPrediction, float>> Getters = UncertaintyScores.Descriptors.ToDictionary(
        d => d.Score,
        d => typeof(BayesianPrediction).GetProperty(d.ColumnName) is { PropertyType: var t } property && t == typeof(float)
            ? property.GetMethod!.CreateDelegate<Func<BayesianPrediction, float>>()
            : throw new InvalidOperationException($"{nameof(BayesianPrediction)} has no float property '{d.ColumnName}' for the score {d.Score}."));
}
