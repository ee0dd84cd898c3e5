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

    /// <summary>
    /// The one table of scores, in output-column order (the order of <see cref="UncertaintyScore"/>): one instance of every
    /// <see cref="ScoreDescriptor"/> subclass of this assembly (Uncertainty/Scores), so a new score is found without a list
    /// to extend. Every score has exactly one descriptor, or this type fails to initialise with the reason.
    /// </summary>
    public static IReadOnlyList<ScoreDescriptor> Descriptors { get; } = FindDescriptors();

    static ScoreDescriptor[] FindDescriptors()
    {
        var found = typeof(ScoreDescriptor).Assembly.GetTypes()
            .Where(t => t.IsSubclassOf(typeof(ScoreDescriptor)) && !t.IsAbstract)
            .Select(t => (ScoreDescriptor)Activator.CreateInstance(t, nonPublic: true)!)
            .OrderBy(d => d.Score).ToArray();
        foreach (var score in Enum.GetValues<UncertaintyScore>())
        {
            var mine = found.Where(d => d.Score == score).Select(d => d.GetType().Name).ToArray();
            if (mine.Length != 1)
                throw new InvalidOperationException($"The score {score} has {mine.Length} descriptors ({string.Join(", ", mine)}); it needs exactly one ScoreDescriptor subclass in Uncertainty/Scores.");
        }
        return found;
    }

    static readonly IReadOnlyDictionary<UncertaintyScore, ScoreDescriptor> ByScore = Descriptors.ToDictionary(d => d.Score);

    /// <summary>The descriptor of <paramref name="score"/>.</summary>
    public static ScoreDescriptor Describe(this UncertaintyScore score)
        => ByScore.TryGetValue(score, out var descriptor) ? descriptor : throw new ArgumentOutOfRangeException(nameof(score), score, "not an uncertainty score");

    /// <summary>Whether a higher value of the score means a less certain prediction.</summary>
    public static bool HighMeansUncertain(this UncertaintyScore score) => score.Describe().HighMeansUncertain;

    /// <summary>The value turned so that higher always means less certain (what rankings, curves and OOD scores use).</summary>
    public static double Uncertainty(this UncertaintyScore score, double value) => score.HighMeansUncertain() ? value : -value;

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
