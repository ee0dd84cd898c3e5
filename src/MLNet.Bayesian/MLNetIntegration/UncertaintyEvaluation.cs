using Microsoft.ML;
using Microsoft.ML.Data;
using MLNet.Bayesian.Scoring;
using MLNet.Bayesian.Uncertainty;

namespace MLNet.Bayesian.MLNetIntegration;

/// <summary>ML.NET's multiclass metrics plus calibration, selective prediction by every score, and the chosen score's figures.</summary>
public sealed record UncertaintyMetrics(MulticlassClassificationMetrics Multiclass, UncertaintyReport Report, UncertaintyScore Score)
{
    /// <summary>Accuracy.</summary>
    public double Accuracy => Report.Classification.Accuracy;
    /// <summary>Mean negative log-likelihood of the true class.</summary>
    public double Nll => Report.Classification.Nll;
    /// <summary>Expected calibration error (15 bins).</summary>
    public double Ece => Report.Classification.Ece;
    /// <summary>Brier score.</summary>
    public double Brier => Report.Classification.Brier;
    /// <summary>The share of rows kept for <see cref="SelectiveAccuracy"/>.</summary>
    public double Coverage => Report.Coverage;
    /// <summary>Accuracy of the <see cref="Coverage"/> most certain rows by <see cref="Score"/>.</summary>
    public double SelectiveAccuracy => Report.Selective[Score].AccuracyAtCoverage;
    /// <summary>Area under the risk-coverage curve of <see cref="Score"/>.</summary>
    public double Aurc => Report.Selective[Score].Aurc;
    /// <summary>The column of <see cref="Score"/>.</summary>
    public string UncertaintyColumn => Score.ToString();
}

/// <summary>Evaluation with uncertainty: <c>mlContext.MulticlassClassification.EvaluateWithUncertainty(scored)</c>.</summary>
public static class UncertaintyEvaluation
{
    /// <summary>
    /// Evaluates scored data in one pass over it (the rows are scored once and cached): ML.NET's multiclass metrics,
    /// NLL, ECE (15 bins), Brier, the reliability diagram, and selective prediction by every uncertainty column the
    /// data has, at <paramref name="coverage"/>; the summary figures use <paramref name="uncertaintyColumnName"/>
    /// (confidence counts as certain when high, the entropies when low).
    /// </summary>
    public static UncertaintyMetrics EvaluateWithUncertainty(this MulticlassClassificationCatalog catalog, IDataView data,
        string labelColumnName = BayesianColumnNames.Label, string scoreColumnName = BayesianColumnNames.Score,
        string predictedLabelColumnName = BayesianColumnNames.PredictedLabel,
        string uncertaintyColumnName = BayesianColumnNames.MutualInformation, double coverage = 0.8)
    {
        ArgumentNullException.ThrowIfNull(data);
        if (coverage <= 0 || coverage > 1) throw new ArgumentOutOfRangeException(nameof(coverage), "must be in (0, 1]");
        var score = UncertaintyScores.Parse(uncertaintyColumnName);
        // Every column either reader needs is prefetched: the cache then fills them all from one cursor, so the model
        // scores each row once; a plain Cache fills the columns each reader asks for with a pass of its own.
        var needed = new[] { labelColumnName, scoreColumnName, predictedLabelColumnName }
            .Concat(UncertaintyScores.All.Select(s => s.ToString()))
            .Where(name => data.Schema.GetColumnOrNull(name) is not null).Distinct().ToArray();
        var cached = new MLContext().Data.Cache(data, needed);
        var multiclass = catalog.Evaluate(cached, labelColumnName, scoreColumnName, predictedLabelColumnName);
        var rows = ReadScoredRows(cached, labelColumnName, scoreColumnName);
        if (!rows.Scores.ContainsKey(score)) throw new ArgumentException($"Column '{uncertaintyColumnName}' was not found in the scored data.");
        return new UncertaintyMetrics(multiclass, UncertaintyEvaluator.Evaluate(rows, coverage), score);
    }

    /// <summary>
    /// A review rule tuned on scored validation data over <paramref name="scores"/> (default
    /// <see cref="ReviewRule.DefaultScores"/>: PredictiveEntropy, Energy and FeatureDistance; or the single
    /// <paramref name="uncertaintyColumnName"/>), combined by <paramref name="combination"/> (default
    /// <see cref="ReviewRule.DefaultCombination"/>, Fisher's method), fitted to keep the coverage. Give either the accuracy
    /// the automatically decided rows must reach (the largest coverage that reaches it is chosen) or the coverage. Route
    /// rows with <c>rule.NeedsReview(row)</c>.
    /// </summary>
    public static ReviewRule FitReviewRule(this MulticlassClassificationCatalog catalog, IDataView scoredValidation,
        double? targetAccuracy = null, double? coverage = null, string? uncertaintyColumnName = null,
        string labelColumnName = BayesianColumnNames.Label, string scoreColumnName = BayesianColumnNames.Score,
        IReadOnlyList<UncertaintyScore>? scores = null, ScoreCombination combination = ReviewRule.DefaultCombination)
    {
        if (uncertaintyColumnName is not null && scores is not null)
            throw new ArgumentException("Give either uncertaintyColumnName (one score) or scores (one or more), not both.");
        var chosen = scores ?? (uncertaintyColumnName is null ? ReviewRule.DefaultScores : new[] { UncertaintyScores.Parse(uncertaintyColumnName) });
        var rows = ReadScoredRows(scoredValidation, labelColumnName, scoreColumnName);
        return UncertaintyEvaluator.FitReviewRule(rows, chosen, coverage, targetAccuracy, combination: combination);
    }

    /// <summary>
    /// Reads scored rows into memory: the score vector, the key label (when <paramref name="labelColumnName"/> is
    /// given and present; a missing key becomes -1) and every uncertainty column present.
    /// </summary>
    public static ScoredRows ReadScoredRows(IDataView data, string? labelColumnName = BayesianColumnNames.Label, string scoreColumnName = BayesianColumnNames.Score)
    {
        ArgumentNullException.ThrowIfNull(data);
        var score = data.Schema.GetColumnOrNull(scoreColumnName) ?? throw new ArgumentException($"Column '{scoreColumnName}' was not found in the scored data.");
        if (score.Type is not VectorDataViewType { IsKnownSize: true } scoreType || scoreType.ItemType != NumberDataViewType.Single)
            throw new ArgumentException($"Score column '{scoreColumnName}' is {score.Type}, not a known-size vector of floats.");
        DataViewSchema.Column? label = null;
        if (labelColumnName is not null)
        {
            label = data.Schema.GetColumnOrNull(labelColumnName) ?? throw new ArgumentException($"Label column '{labelColumnName}' was not found in the scored data.");
            if (label.Value.Type is not KeyDataViewType) throw new ArgumentException($"Label column '{labelColumnName}' is {label.Value.Type}, not a key.");
        }
        var uncertainty = UncertaintyScores.All
            .Select(s => (Score: s, Column: data.Schema.GetColumnOrNull(s.ToString())))
            .Where(p => p.Column is { } c && c.Type == NumberDataViewType.Single)
            .Select(p => (p.Score, Column: p.Column!.Value)).ToList();

        int classes = scoreType.Size;
        var probabilities = new List<float>();
        var labels = new List<int>();
        var values = uncertainty.ToDictionary(u => u.Score, _ => new List<float>());
        var needed = new List<DataViewSchema.Column> { score };
        if (label is { } l) needed.Add(l);
        needed.AddRange(uncertainty.Select(u => u.Column));
        using var cursor = data.GetRowCursor(needed);
        var getScore = cursor.GetGetter<VBuffer<float>>(score);
        var getLabel = label is { } lc ? KeyGetter(cursor, lc) : null;
        var getters = uncertainty.Select(u => (u.Score, Getter: cursor.GetGetter<float>(u.Column))).ToList();
        VBuffer<float> row = default;
        float value = 0;
        while (cursor.MoveNext())
        {
            getScore(ref row);
            probabilities.AddRange(row.DenseValues());
            labels.Add(getLabel is null ? -1 : getLabel());
            foreach (var (s, getter) in getters) { getter(ref value); values[s].Add(value); }
        }
        return new ScoredRows(classes, probabilities.ToArray(), labels.ToArray(), values.ToDictionary(p => p.Key, p => p.Value.ToArray()));
    }

    /// <summary>A key label as a 0-based class, -1 for a missing key (ML.NET's evaluator skips those rows too).</summary>
    static Func<int> KeyGetter(DataViewRowCursor cursor, DataViewSchema.Column column)
    {
        if (column.Type.RawType != typeof(uint)) throw new ArgumentException($"Label column '{column.Name}' is a key of {column.Type.RawType.Name}; UInt32 keys are supported.");
        var getter = cursor.GetGetter<uint>(column);
        uint key = 0;
        return () => { getter(ref key); return key == 0 ? -1 : (int)key - 1; };
    }
}
