using MLNet.Bayesian.Uncertainty;

namespace MLNet.Bayesian.Scoring;

/// <summary>One output column of a Bayesian image classifier: its name, the statistic it carries, its CSV header, its meaning.</summary>
public sealed record OutputColumn(string Name, PredictionStatistic Statistic, string CsvName, string Meaning)
{
    /// <summary>Whether the column is a scalar float (the uncertainty columns).</summary>
    public bool IsScalarFloat => Statistic is not (PredictionStatistic.Probabilities or PredictionStatistic.PredictedClass);
}

/// <summary>
/// The one table of output columns. The in-memory transformer (schema, annotations, getters, PredictionEngine), the
/// trainer's output schema, the saved model (the ONNX graph's outputs) and the command line's CSV all read it.
/// PredictedLabel is a key with the training label's values, Score a vector of K probabilities with the class
/// names as slot names, every other column a float. To add a column, add a row here (and, for a new statistic,
/// compute it in <see cref="PredictiveDistribution"/> and in the ONNX export, and add its property to
/// <see cref="BayesianPrediction"/> and to the saved model's squeeze mapping).
/// </summary>
public static class OutputColumns
{
    /// <summary>The scalar uncertainty columns, in output order.</summary>
    public static IReadOnlyList<OutputColumn> Uncertainty { get; } = new[]
    {
        new OutputColumn(BayesianColumnNames.Confidence, PredictionStatistic.Confidence, "confidence",
            "max of Score: the probability of the predicted class"),
        new OutputColumn(BayesianColumnNames.PredictiveEntropy, PredictionStatistic.PredictiveEntropy, "predictive_entropy",
            "H[mean p]: total uncertainty, nats"),
        new OutputColumn(BayesianColumnNames.ExpectedEntropy, PredictionStatistic.ExpectedEntropy, "expected_entropy",
            "mean over samples of H[p_s]: aleatoric uncertainty (the image is ambiguous)"),
        new OutputColumn(BayesianColumnNames.MutualInformation, PredictionStatistic.MutualInformation, "mutual_information",
            "PredictiveEntropy - ExpectedEntropy: epistemic uncertainty (the model has not seen such images)"),
        new OutputColumn(BayesianColumnNames.FeatureDistance, PredictionStatistic.FeatureDistance, "feature_distance",
            "Mahalanobis distance of the image's features to the nearest class of the training images: about sqrt(D) for familiar images, more for unfamiliar ones"),
        new OutputColumn(BayesianColumnNames.Energy, PredictionStatistic.Energy, "energy",
            "-log sum_k exp(logit_k), mean over samples: the network's free energy; high when no class has a large logit (unfamiliar input)"),
    };

    /// <summary>Every output column, in output order, with the configured names of the label and score columns.</summary>
    public static IReadOnlyList<OutputColumn> All(string predictedLabelColumnName = BayesianColumnNames.PredictedLabel,
        string scoreColumnName = BayesianColumnNames.Score)
        => new[]
        {
            new OutputColumn(predictedLabelColumnName, PredictionStatistic.PredictedClass, "predicted_label",
                "arg max of Score, a key with the training label's values"),
            new OutputColumn(scoreColumnName, PredictionStatistic.Probabilities, "p_",
                "posterior-mean class probabilities (mean of S softmax outputs); slot names are the class names"),
        }.Concat(Uncertainty).ToArray();
}
