using Microsoft.ML;
using Microsoft.ML.Data;
using MLNet.Bayesian.Uncertainty;

namespace MLNet.Bayesian.MLNetIntegration;

/// <summary>Send a row to review when its <see cref="Column"/> value is above <see cref="Threshold"/>; on the tuning data this kept
/// <see cref="Coverage"/> of the rows at <see cref="Accuracy"/>.</summary>
public sealed record ReviewRule(string Column, double Threshold, double Coverage, double Accuracy)
{
    /// <summary>Whether a row with this uncertainty goes to a person.</summary>
    public bool NeedsReview(float uncertainty) => uncertainty > Threshold;
}

/// <summary>ML.NET's multiclass metrics plus calibration and selective-prediction figures.</summary>
public sealed record UncertaintyMetrics(
    MulticlassClassificationMetrics Multiclass, double Accuracy, double Nll, double Ece, double Brier,
    string UncertaintyColumn, double Coverage, double SelectiveAccuracy, double Aurc);

/// <summary>Evaluation with uncertainty: <c>mlContext.MulticlassClassification.EvaluateWithUncertainty(scored)</c>.</summary>
public static class UncertaintyEvaluation
{
    /// <summary>
    /// Evaluates scored data: ML.NET's multiclass metrics, NLL, ECE (15 bins), Brier, the area under the
    /// risk-coverage curve (AURC) of <paramref name="uncertaintyColumnName"/>, and the accuracy on the
    /// <paramref name="coverage"/> fraction of rows that <paramref name="uncertaintyColumnName"/> rates most
    /// certain (low values are certain, except for Confidence, where high values are).
    /// </summary>
    public static UncertaintyMetrics EvaluateWithUncertainty(this MulticlassClassificationCatalog catalog, IDataView data,
        string labelColumnName = BayesianColumnNames.Label, string scoreColumnName = BayesianColumnNames.Score,
        string predictedLabelColumnName = BayesianColumnNames.PredictedLabel,
        string uncertaintyColumnName = BayesianColumnNames.MutualInformation, double coverage = 0.8)
    {
        ArgumentNullException.ThrowIfNull(data);
        if (coverage <= 0 || coverage > 1) throw new ArgumentOutOfRangeException(nameof(coverage), "must be in (0, 1]");
        var multiclass = catalog.Evaluate(data, labelColumnName, scoreColumnName, predictedLabelColumnName);
        var (probabilities, labels, correct, certainty, classes) = Read(data, labelColumnName, scoreColumnName, uncertaintyColumnName);
        var metrics = ClassificationMetrics.Compute(probabilities, labels, classes);
        var curve = RiskCoverage.Compute(correct, certainty);
        return new UncertaintyMetrics(multiclass, metrics.Accuracy, metrics.Nll, metrics.Ece, metrics.Brier, uncertaintyColumnName, coverage,
            curve.AccuracyAtCoverage(coverage), curve.Aurc);
    }

    /// <summary>
    /// A review rule tuned on scored validation data: send a row to a person when its
    /// <paramref name="uncertaintyColumnName"/> value exceeds the returned threshold. Give either the accuracy the
    /// automatically decided rows must reach (the largest coverage that reaches it is chosen) or the coverage.
    /// </summary>
    public static ReviewRule FitReviewRule(this MulticlassClassificationCatalog catalog, IDataView scoredValidation,
        double? targetAccuracy = null, double? coverage = null, string uncertaintyColumnName = BayesianColumnNames.MutualInformation,
        string labelColumnName = BayesianColumnNames.Label, string scoreColumnName = BayesianColumnNames.Score)
    {
        if ((targetAccuracy is null) == (coverage is null)) throw new ArgumentException("Give exactly one of targetAccuracy and coverage.");
        if (uncertaintyColumnName == BayesianColumnNames.Confidence)
            throw new ArgumentException("Confidence grows with certainty; tune the rule on PredictiveEntropy, ExpectedEntropy or MutualInformation.");
        var (_, _, correct, certainty, _) = Read(scoredValidation, labelColumnName, scoreColumnName, uncertaintyColumnName);
        var curve = RiskCoverage.Compute(correct, certainty);
        if (coverage is double c)
            return new ReviewRule(uncertaintyColumnName, curve.ThresholdAtCoverage(c), c, curve.AccuracyAtCoverage(c));
        var (kept, threshold) = curve.CoverageForAccuracy(targetAccuracy!.Value);
        return new ReviewRule(uncertaintyColumnName, threshold, kept, kept == 0 ? double.NaN : curve.AccuracyAtCoverage(kept));
    }

    static (float[] Probabilities, int[] Labels, bool[] Correct, float[] Certainty, int Classes) Read(IDataView data,
        string labelColumnName, string scoreColumnName, string uncertaintyColumnName)
    {
        var label = Find(data, labelColumnName);
        var score = Find(data, scoreColumnName);
        var uncertainty = Find(data, uncertaintyColumnName);
        if (label.Type is not KeyDataViewType) throw new ArgumentException($"Label column '{labelColumnName}' is {label.Type}, not a key.");
        if (score.Type is not VectorDataViewType { IsKnownSize: true } scoreType) throw new ArgumentException($"Score column '{scoreColumnName}' is {score.Type}, not a known-size vector.");
        if (uncertainty.Type != NumberDataViewType.Single) throw new ArgumentException($"Uncertainty column '{uncertaintyColumnName}' is {uncertainty.Type}, not a float.");
        int classes = scoreType.Size;

        var probabilities = new List<float>();
        var labels = new List<int>();
        var certainty = new List<float>();
        bool highIsCertain = uncertaintyColumnName == BayesianColumnNames.Confidence;
        using var cursor = data.GetRowCursor(new[] { label, score, uncertainty });
        var getLabel = cursor.GetGetter<uint>(label);
        var getScore = cursor.GetGetter<VBuffer<float>>(score);
        var getUncertainty = cursor.GetGetter<float>(uncertainty);
        uint key = 0; VBuffer<float> row = default; float u = 0;
        while (cursor.MoveNext())
        {
            getLabel(ref key);
            if (key == 0) continue; // ML.NET's evaluator skips rows with a missing label too
            getScore(ref row);
            getUncertainty(ref u);
            probabilities.AddRange(row.DenseValues());
            labels.Add((int)key - 1);
            certainty.Add(highIsCertain ? -u : u);
        }
        var correct = Enumerable.Range(0, labels.Count).Select(i =>
        {
            int best = 0;
            for (int c = 1; c < classes; c++) if (probabilities[i * classes + c] > probabilities[i * classes + best]) best = c;
            return best == labels[i];
        }).ToArray();
        return (probabilities.ToArray(), labels.ToArray(), correct, certainty.ToArray(), classes);
    }

    static DataViewSchema.Column Find(IDataView data, string name)
        => data.Schema.GetColumnOrNull(name) ?? throw new ArgumentException($"Column '{name}' was not found in the scored data.");
}
