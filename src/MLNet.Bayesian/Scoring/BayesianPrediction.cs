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
    public float Value(UncertaintyScore score) => Getters.TryGetValue(score, out var get) ? get(this)
        : throw new NotSupportedException($"{nameof(BayesianPrediction)} has no float property '{score.Describe().ColumnName}' for the score {score}: " +
            $"read the column '{score.Describe().ColumnName}' into a class of your own that has one.");

    // One getter per score that has a property of its column's name, found once.
    static readonly IReadOnlyDictionary<UncertaintyScore, Func<BayesianPrediction, float>> Getters = UncertaintyScores.Descriptors
        .Where(d => typeof(BayesianPrediction).GetProperty(d.ColumnName)?.PropertyType == typeof(float))
        .ToDictionary(d => d.Score, d => typeof(BayesianPrediction).GetProperty(d.ColumnName)!.GetMethod!.CreateDelegate<Func<BayesianPrediction, float>>());
}
