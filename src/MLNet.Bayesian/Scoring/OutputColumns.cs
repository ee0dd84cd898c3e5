using MLNet.Bayesian.Uncertainty;

namespace MLNet.Bayesian.Scoring;

/// <summary>What an output column holds.</summary>
public enum OutputColumnKind
{
    /// <summary>The predicted class: a key with the training label's values.</summary>
    PredictedLabel,
    /// <summary>The posterior-mean class probabilities: a vector of K floats, the class names as slot names.</summary>
    Score,
    /// <summary>One uncertainty score: a float (<see cref="OutputColumn.Uncertainty"/> says which).</summary>
    Uncertainty,
}

/// <summary>
/// One output column of a Bayesian image classifier: its name, what it holds, its CSV header, its meaning, and for an
/// uncertainty column the score it carries.
/// </summary>
public sealed record OutputColumn(string Name, OutputColumnKind Kind, string CsvName, string Meaning, UncertaintyScore? Uncertainty = null)
{
    /// <summary>Whether the column is a scalar float (the uncertainty columns).</summary>
    public bool IsScalarFloat => Kind == OutputColumnKind.Uncertainty;
}

/// <summary>
/// The one table of output columns. The in-memory transformer (schema, annotations, getters, PredictionEngine), the
/// trainer's output schema, the saved model (the ONNX graph's outputs) and the command line's CSV all read it.
/// PredictedLabel is a key with the training label's values, Score a vector of K probabilities with the class
/// names as slot names, every other column a float. The uncertainty columns come from the one table of scores,
/// <see cref="UncertaintyScores.Descriptors"/>, where each score also says how it is computed.
/// </summary>
public static class OutputColumns
{
    /// <summary>The scalar uncertainty columns, in output order.</summary>
    public static IReadOnlyList<OutputColumn> Uncertainty { get; } =
        UncertaintyScores.Descriptors.Select(d => new OutputColumn(d.ColumnName, OutputColumnKind.Uncertainty, d.SnakeName, d.Meaning, d.Score)).ToArray();

    /// <summary>Every output column, in output order, with the configured names of the label and score columns.</summary>
    public static IReadOnlyList<OutputColumn> All(string predictedLabelColumnName = BayesianColumnNames.PredictedLabel,
        string scoreColumnName = BayesianColumnNames.Score)
        => new[]
        {
            new OutputColumn(predictedLabelColumnName, OutputColumnKind.PredictedLabel, "predicted_label",
                "arg max of Score, a key with the training label's values"),
            new OutputColumn(scoreColumnName, OutputColumnKind.Score, "p_",
                "posterior-mean class probabilities (mean of S softmax outputs); slot names are the class names"),
        }.Concat(Uncertainty).ToArray();
}
