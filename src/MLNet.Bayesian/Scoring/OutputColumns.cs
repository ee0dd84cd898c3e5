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
/// names as slot names, every other column a float. The uncertainty columns come from the one table of scores,
/// <see cref="UncertaintyScores.Descriptors"/>: a new score is a row there, its computation in
/// <see cref="PredictiveDistribution"/> and in the ONNX export, and its property on <see cref="BayesianPrediction"/>.
/// </summary>
public static class OutputColumns
{
    /// <summary>The scalar uncertainty columns, in output order.</summary>
    public static IReadOnlyList<OutputColumn> Uncertainty { get; } =
        UncertaintyScores.Descriptors.Select(d => new OutputColumn(d.ColumnName, d.Statistic, d.SnakeName, d.Meaning)).ToArray();

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
