namespace MLNet.Bayesian.Uncertainty;

/// <summary>
/// Everything the library says about one uncertainty score, in one place: the statistic it reads, its ML.NET column, its
/// name in CSV files, ONNX outputs and file names, which way is unsure, its unit and its meaning. The ML.NET columns
/// (<c>OutputColumns</c>), the command line's CSV, the bare ONNX graph's outputs, the evaluation report's plots and
/// <c>BayesianPrediction.Value</c> all read <see cref="UncertaintyScores.Descriptors"/>.
/// </summary>
/// <param name="Score">The score.</param>
/// <param name="Statistic">The per-row statistic it reads (computed in memory by <see cref="PredictiveDistribution"/> and in the ONNX graph).</param>
/// <param name="ColumnName">Its output column in ML.NET, and the property of a prediction class that receives it.</param>
/// <param name="SnakeName">Its name in CSV headers, ONNX outputs, JSON keys and file names.</param>
/// <param name="HighMeansUncertain">Whether a higher value means a less certain prediction.</param>
/// <param name="Unit">What its values are measured in (plot axes).</param>
/// <param name="Meaning">One line on what it says, for schemas and documentation.</param>
public sealed record ScoreDescriptor(UncertaintyScore Score, PredictionStatistic Statistic, string ColumnName, string SnakeName,
    bool HighMeansUncertain, string Unit, string Meaning);
