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

    /// <summary>The one table of scores, in output-column order: each score's statistic, column, names, direction, unit and meaning.</summary>
    public static IReadOnlyList<ScoreDescriptor> Descriptors { get; } = new[]
    {
        new ScoreDescriptor(UncertaintyScore.Confidence, PredictionStatistic.Confidence, "Confidence", "confidence",
            HighMeansUncertain: false, "probability of the predicted class", "max of Score: the probability of the predicted class"),
        new ScoreDescriptor(UncertaintyScore.PredictiveEntropy, PredictionStatistic.PredictiveEntropy, "PredictiveEntropy", "predictive_entropy",
            HighMeansUncertain: true, "nats", "H[mean p]: total uncertainty, nats"),
        new ScoreDescriptor(UncertaintyScore.ExpectedEntropy, PredictionStatistic.ExpectedEntropy, "ExpectedEntropy", "expected_entropy",
            HighMeansUncertain: true, "nats", "mean over samples of H[p_s]: aleatoric uncertainty (the image is ambiguous)"),
        new ScoreDescriptor(UncertaintyScore.MutualInformation, PredictionStatistic.MutualInformation, "MutualInformation", "mutual_information",
            HighMeansUncertain: true, "nats", "PredictiveEntropy - ExpectedEntropy: epistemic uncertainty (the model has not seen such images)"),
        new ScoreDescriptor(UncertaintyScore.FeatureDistance, PredictionStatistic.FeatureDistance, "FeatureDistance", "feature_distance",
            HighMeansUncertain: true, "Mahalanobis distance to the nearest class",
            "Mahalanobis distance of the image's features to the nearest class of the training images: about sqrt(D) for familiar images, more for unfamiliar ones"),
        new ScoreDescriptor(UncertaintyScore.Energy, PredictionStatistic.Energy, "Energy", "energy",
            HighMeansUncertain: true, "-log sum exp of the logits",
            "-log sum_k exp(logit_k), mean over samples: the network's free energy; high when no class has a large logit (unfamiliar input)"),
    };

    static readonly IReadOnlyDictionary<UncertaintyScore, ScoreDescriptor> ByScore = Descriptors.ToDictionary(d => d.Score);

    /// <summary>The descriptor of <paramref name="score"/>.</summary>
    public static ScoreDescriptor Describe(this UncertaintyScore score)
        => ByScore.TryGetValue(score, out var descriptor) ? descriptor : throw new ArgumentOutOfRangeException(nameof(score), score, "not an uncertainty score");

    /// <summary>Whether a higher value of the score means a less certain prediction.</summary>
    public static bool HighMeansUncertain(this UncertaintyScore score) => score.Describe().HighMeansUncertain;

    /// <summary>The value turned so that higher always means less certain (what rankings, curves and OOD scores use).</summary>
    public static double Uncertainty(this UncertaintyScore score, double value) => score.HighMeansUncertain() ? value : -value;

    /// <summary>The statistic the score reads.</summary>
    public static PredictionStatistic Statistic(this UncertaintyScore score) => score.Describe().Statistic;

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
