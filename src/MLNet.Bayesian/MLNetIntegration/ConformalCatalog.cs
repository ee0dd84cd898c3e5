using Microsoft.ML;
using MLNet.Bayesian.Conformal;
using MLNet.Bayesian.Scoring;

namespace MLNet.Bayesian.MLNetIntegration;

/// <summary>Split conformal prediction sets: <c>mlContext.MulticlassClassification.FitConformal(model, calibrationData)</c>.</summary>
public static class ConformalCatalog
{
    /// <summary>
    /// Scores <paramref name="calibrationData"/> (raw rows: the image column and a key label column; rows that played no
    /// other part: not trained on, and not the trainer's ValidationSet, which chose the posterior scale and the stage-0
    /// guard, nor the rows a review rule was fitted on; reusing them makes the coverage approximate) with <paramref name="model"/>, fits a split-conformal calibration (see
    /// <see cref="ConformalCalibration"/>) and returns the model with PredictionSet (one boolean per class, key order)
    /// and PredictionSetSize (float) columns, which it saves and loads with. The returned transformer shares the
    /// network with <paramref name="model"/>: dispose only one of them.
    /// </summary>
    public static BayesianImageClassificationTransformer FitConformal(this MulticlassClassificationCatalog catalog,
        BayesianImageClassificationTransformer model, IDataView calibrationData, double coverage = 0.9, ConformalMethod method = ConformalMethod.Lac,
        string labelColumnName = BayesianColumnNames.Label)
        => catalog.FitConformal(model, calibrationData, new ConformalCalibration.Options { Coverage = coverage, Method = method }, labelColumnName);

    /// <summary><see cref="FitConformal(MulticlassClassificationCatalog, BayesianImageClassificationTransformer, IDataView, double, ConformalMethod, string)"/> with every setting.</summary>
    public static BayesianImageClassificationTransformer FitConformal(this MulticlassClassificationCatalog catalog,
        BayesianImageClassificationTransformer model, IDataView calibrationData, ConformalCalibration.Options options,
        string labelColumnName = BayesianColumnNames.Label)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(calibrationData);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        if (calibrationData.Schema.GetColumnOrNull(labelColumnName) is null)
            throw new ArgumentException($"Label column '{labelColumnName}' was not found in the calibration data; conformal calibration needs the true class of every row. " +
                $"Columns: {string.Join(", ", calibrationData.Schema.Select(c => c.Name))}.", nameof(labelColumnName));
        var rows = UncertaintyEvaluation.ReadScoredRows(model.Transform(calibrationData), labelColumnName, model.ScoreColumnName);
        int missing = Array.IndexOf(rows.Labels, -1);
        if (missing >= 0)
            throw new ArgumentException($"Calibration row {missing} has no value in label column '{labelColumnName}'; every calibration row needs its true class.", nameof(calibrationData));
        return model.WithConformal(ConformalCalibration.Fit(rows.Probabilities, rows.Classes, rows.Labels, options));
    }
}
