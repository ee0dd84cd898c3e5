namespace MLNet.Bayesian.Uncertainty;

/// <summary>
/// Scored rows held in memory for evaluation: N x K mean probabilities, the true class of each row (-1 when the
/// row has none, e.g. out-of-distribution images) and the value of every <see cref="UncertaintyScore"/>.
/// </summary>
public sealed class ScoredRows
{
    /// <summary>Creates the rows; every score array must have one value per row.</summary>
    public ScoredRows(int classes, float[] probabilities, int[] labels, IReadOnlyDictionary<UncertaintyScore, float[]> scores)
    {
        if (classes < 1) throw new ArgumentOutOfRangeException(nameof(classes), "at least one class is needed");
        if (probabilities.Length != labels.Length * classes)
            throw new ArgumentException($"{probabilities.Length} probabilities do not match {labels.Length} rows of {classes} classes.");
        foreach (var (score, values) in scores)
            if (values.Length != labels.Length) throw new ArgumentException($"{score} has {values.Length} values for {labels.Length} rows.");
        Classes = classes; Probabilities = probabilities; Labels = labels; Scores = scores;
    }

    /// <summary>The rows of a predictive distribution, with their labels.</summary>
    public static ScoredRows From(PredictiveDistribution prediction, int[] labels)
        => new(prediction.Classes, prediction.Probabilities, labels, UncertaintyScores.All.ToDictionary(s => s, s =>
            Enumerable.Range(0, prediction.Count).Select(i => prediction.Value(s, i)).ToArray()));

    /// <summary>Number of classes K.</summary>
    public int Classes { get; }
    /// <summary>Mean probabilities, N x K.</summary>
    public float[] Probabilities { get; }
    /// <summary>True class per row, -1 when unknown.</summary>
    public int[] Labels { get; }
    /// <summary>The uncertainty scores, one value per row.</summary>
    public IReadOnlyDictionary<UncertaintyScore, float[]> Scores { get; }
    /// <summary>Number of rows.</summary>
    public int Count => Labels.Length;

    /// <summary>Arg max of row <paramref name="i"/>'s probabilities.</summary>
    public int Predicted(int i)
    {
        var row = Probabilities.AsSpan(i * Classes, Classes);
        int best = 0;
        for (int c = 1; c < row.Length; c++) if (row[c] > row[best]) best = c;
        return best;
    }

    /// <summary>The score values turned so that higher means less certain.</summary>
    public float[] Uncertainty(UncertaintyScore score) => Values(score).Select(v => (float)score.Uncertainty(v)).ToArray();

    /// <summary>The values of one score (an error naming it when the rows lack it).</summary>
    public float[] Values(UncertaintyScore score)
        => Scores.TryGetValue(score, out var values) ? values : throw new ArgumentException($"The scored rows have no {score} values.");
}
