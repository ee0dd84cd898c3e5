namespace MLNet.Bayesian.Scoring;

/// <summary>
/// A scored row of a model with a conformal calibration (FitConformal, or the CLI's train): the columns of
/// <see cref="BayesianPrediction"/> plus the prediction set.
/// </summary>
public class BayesianSetPrediction : BayesianPrediction
{
    /// <summary>Whether each class (key order, as <see cref="BayesianPrediction.Score"/>) is in the prediction set.</summary>
    public bool[] PredictionSet { get; set; } = Array.Empty<bool>();
    /// <summary>Number of classes in the set: 1 is a confident decision; 0 or more than 1 is a row to review.</summary>
    public float PredictionSetSize { get; set; }
}
