namespace MLNet.Bayesian.Uncertainty;

/// <summary>The per-row scores that rate how sure a prediction is; each knows which way is "unsure".</summary>
public enum UncertaintyScore
{
    /// <summary>Max of the mean probabilities: high means certain.</summary>
    Confidence,
    /// <summary>Entropy of the mean probabilities (total uncertainty): high means uncertain.</summary>
    PredictiveEntropy,
    /// <summary>Mean entropy of the per-sample probabilities (aleatoric): high means uncertain.</summary>
    ExpectedEntropy,
    /// <summary>Predictive minus expected entropy (epistemic): high means uncertain.</summary>
    MutualInformation,
    /// <summary>Distance of the image's features to the training images' (unfamiliar input): high means uncertain.</summary>
    FeatureDistance,
    /// <summary>Free energy of the logits, -log sum exp (unfamiliar input: small logits for every class): high means uncertain.</summary>
    Energy,
}

/// <summary>Direction and naming of <see cref="UncertaintyScore"/>: the one place that knows confidence runs the other way.</summary>
public static class UncertaintyScores
{
    /// <summary>Every score.</summary>
    public static IReadOnlyList<UncertaintyScore> All { get; } = Enum.GetValues<UncertaintyScore>();

    /// <summary>Whether a higher value of the score means a less certain prediction.</summary>
    public static bool HighMeansUncertain(this UncertaintyScore score) => score != UncertaintyScore.Confidence;

    /// <summary>The value turned so that higher always means less certain (what rankings, curves and OOD scores use).</summary>
    public static double Uncertainty(this UncertaintyScore score, double value) => score.HighMeansUncertain() ? value : -value;

    /// <summary>The statistic the score reads.</summary>
    public static PredictionStatistic Statistic(this UncertaintyScore score) => score switch
    {
        UncertaintyScore.Confidence => PredictionStatistic.Confidence,
        UncertaintyScore.PredictiveEntropy => PredictionStatistic.PredictiveEntropy,
        UncertaintyScore.ExpectedEntropy => PredictionStatistic.ExpectedEntropy,
        UncertaintyScore.MutualInformation => PredictionStatistic.MutualInformation,
        UncertaintyScore.FeatureDistance => PredictionStatistic.FeatureDistance,
        _ => PredictionStatistic.Energy,
    };

    /// <summary>The score of a column name (the output column names: Confidence, PredictiveEntropy, ...), ignoring case.</summary>
    public static UncertaintyScore Parse(string name)
        => Enum.TryParse<UncertaintyScore>(name, ignoreCase: true, out var score) && Enum.IsDefined(score) && !name.Trim().All(char.IsDigit)
            ? score
            : throw new ArgumentException($"'{name}' is not an uncertainty score; use one of {string.Join(", ", All)}.");

    /// <summary>Scores named in a comma-separated list ("PredictiveEntropy,MutualInformation"), ignoring case and spaces; each once.</summary>
    public static IReadOnlyList<UncertaintyScore> ParseList(string names)
    {
        var parts = (names ?? "").Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
        if (parts.Length == 0) throw new ArgumentException($"No score named; use one or more of {string.Join(", ", All)}, separated by commas.");
        return parts.Select(Parse).Distinct().ToArray();
    }
}
