using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace MLNet.Bayesian.Uncertainty;

/// <summary>
/// One score of a <see cref="ReviewRule"/>: a row goes to review when its <see cref="Score"/> is on the unsure side of
/// <see cref="Threshold"/> (above it for the entropies, below it for confidence). <see cref="Quantiles"/> are the
/// score's validation values turned so that higher means less certain, at equally spaced ranks 0..1 (empty for a
/// rule written by hand): they give a new row the rank it would have had among the validation rows.
/// </summary>
[JsonNumberHandling(JsonNumberHandling.AllowNamedFloatingPointLiterals)]
public sealed record ReviewCut(UncertaintyScore Score, double Threshold, float[] Quantiles)
{
    /// <summary>Whether <paramref name="value"/> is on the unsure side of the threshold; NaN or infinity always is.</summary>
    public bool Exceeded(float value) => !float.IsFinite(value) || Score.Uncertainty(value) > Score.Uncertainty(Threshold);

    /// <summary>
    /// The share of validation rows at most as uncertain as <paramref name="value"/> (0..1, interpolated between the
    /// stored quantiles; NaN or infinity is +inf): the scale on which the scores of a rule are compared.
    /// </summary>
    public double Rank(float value)
    {
        if (!float.IsFinite(value)) return double.PositiveInfinity;
        if (Quantiles.Length < 2) throw new InvalidOperationException($"The review cut on {Score} has no validation quantiles; fit the rule with FitReviewRule.");
        double u = Score.Uncertainty(value);
        if (u < Quantiles[0]) return 0;
        if (u >= Quantiles[^1]) return 1;
        // The last quantile at or below u (ties: the highest rank they share), then linear up to the next one.
        int lo = 0, hi = Quantiles.Length - 1;
        while (hi - lo > 1) { int mid = (lo + hi) / 2; if (Quantiles[mid] <= u) lo = mid; else hi = mid; }
        double step = 1.0 / (Quantiles.Length - 1);
        return (lo + (u - Quantiles[lo]) / (Quantiles[hi] - Quantiles[lo])) * step;
    }
}

/// <summary>
/// Sends a row to a person when its scores say it is uncertain or unfamiliar, or one of them is not a finite number.
/// Each score is read as its validation rank (the share of validation rows at most as uncertain, from the stored
/// quantiles), and the ranks are combined (<see cref="Combination"/>) into the rule's own score
/// (<see cref="CombinedUncertainty(Func{UncertaintyScore, float})"/>, for rankings, AUROC and histograms): with
/// <see cref="ScoreCombination.AnyScore"/> the highest rank, with <see cref="ScoreCombination.Fisher"/> the sum of
/// -ln(1 - rank). The row goes to review when it exceeds <see cref="CombinedThreshold"/>. Each of <see cref="Cuts"/> is
/// the value at which that score alone sends a row to review. Different unfamiliar inputs raise different scores (blurred
/// digits the energy, noise the feature distance, ambiguous clothing the entropy), so a rule over several scores
/// catches them all. On the tuning data the rule kept <see cref="Coverage"/> of the rows for automatic decisions, at
/// <see cref="Accuracy"/>.
/// </summary>
[JsonConverter(typeof(ReviewRuleJsonConverter))]
public sealed class ReviewRule
{
    /// <summary>
    /// The scores a rule uses unless told otherwise: total uncertainty (ambiguous images), the logits' energy and the
    /// features' distance (unfamiliar images), combined by <see cref="DefaultCombination"/>.
    /// </summary>
    public static IReadOnlyList<UncertaintyScore> DefaultScores { get; } = new[] { UncertaintyScore.PredictiveEntropy, UncertaintyScore.Energy, UncertaintyScore.FeatureDistance };

    /// <summary>How a rule combines its scores unless told otherwise.</summary>
    public const ScoreCombination DefaultCombination = ScoreCombination.Fisher;

    /// <summary>
    /// A rule on one score with a threshold of your own (the rule of earlier versions). It is asked like every rule, with
    /// the whole row (<c>NeedsReview(prediction)</c>, or <see cref="NeedsReview(Func{UncertaintyScore, float})"/>): there is no call that takes one score's value, so an
    /// app cannot pass one number to a rule that reads several.
    /// </summary>
    public ReviewRule(UncertaintyScore score, double threshold, double coverage, double accuracy)
        : this(new[] { new ReviewCut(score, threshold, Array.Empty<float>()) }, double.NaN, coverage, accuracy) { }

    /// <summary>
    /// A rule over several scores; <paramref name="combinedThreshold"/> is the cut on the combined score (for
    /// <see cref="ScoreCombination.AnyScore"/> the validation rank the cuts sit at).
    /// </summary>
    public ReviewRule(IReadOnlyList<ReviewCut> cuts, double combinedThreshold, double coverage, double accuracy,
        ScoreCombination combination = ScoreCombination.AnyScore)
    {
        if (!Enum.IsDefined(combination)) throw new ArgumentOutOfRangeException(nameof(combination), combination, "unknown score combination");
        ArgumentNullException.ThrowIfNull(cuts);
        if (cuts.Count == 0) throw new ArgumentException("A review rule needs at least one score.", nameof(cuts));
        var repeated = cuts.GroupBy(c => c.Score).FirstOrDefault(g => g.Count() > 1);
        if (repeated is not null) throw new ArgumentException($"{repeated.Key} appears more than once in the review rule.", nameof(cuts));
        if (combination == ScoreCombination.Fisher && !cuts.All(c => c.Quantiles.Length >= 2))
            throw new ArgumentException("A Fisher rule reads every score's validation quantiles; fit it with FitReviewRule.", nameof(cuts));
        Cuts = cuts.ToArray(); CombinedThreshold = combinedThreshold; Coverage = coverage; Accuracy = accuracy; Combination = combination;
    }

    /// <summary>How the scores are combined.</summary>
    public ScoreCombination Combination { get; }

    /// <summary>One threshold per score.</summary>
    public IReadOnlyList<ReviewCut> Cuts { get; }
    /// <summary>The validation rank every cut sits at (NaN for a rule written by hand).</summary>
    public double CombinedThreshold { get; }
    /// <summary>Share of the tuning rows decided automatically.</summary>
    public double Coverage { get; }
    /// <summary>Accuracy of those rows.</summary>
    public double Accuracy { get; }
    /// <summary>The scores the rule reads.</summary>
    public IReadOnlyList<UncertaintyScore> Scores => Cuts.Select(c => c.Score).ToArray();
    /// <summary>Whether <see cref="CombinedUncertainty(Func{UncertaintyScore, float})"/> can be computed (the rule was fitted on validation rows).</summary>
    public bool HasRanks => Cuts.All(c => c.Quantiles.Length >= 2);

    /// <summary>Whether a row goes to a person, given each score's value; NaN or infinity in any score always does.</summary>
    public bool NeedsReview(Func<UncertaintyScore, float> value)
    {
        // The cut was fitted on the statistic rounded to float (the risk-coverage curve is computed in float); rounding it
        // the same way here keeps the boundary row on the side the fit counted it, so the fitted coverage is the applied one.
        if (Combination == ScoreCombination.Fisher) return (float)CombinedUncertainty(value) > CombinedThreshold;
        foreach (var cut in Cuts) if (cut.Exceeded(value(cut.Score))) return true;
        return false;
    }

    /// <summary>Whether row <paramref name="i"/> of <paramref name="rows"/> goes to a person.</summary>
    public bool NeedsReview(ScoredRows rows, int i) => NeedsReview(s => rows.Values(s)[i]);

    /// <summary>
    /// The rule's score of a row (+inf when one of its scores is not finite): the highest validation rank of its scores
    /// (0..1) for <see cref="ScoreCombination.AnyScore"/>, the sum of -ln(1 - rank) for <see cref="ScoreCombination.Fisher"/>.
    /// The row goes to review when it exceeds <see cref="CombinedThreshold"/> (for AnyScore up to the resolution of the
    /// stored quantiles).
    /// </summary>
    public double CombinedUncertainty(Func<UncertaintyScore, float> value)
    {
        if (Combination == ScoreCombination.Fisher)
        {
            double sum = 0;
            foreach (var cut in Cuts) sum += FisherTerm(cut, cut.Rank(value(cut.Score)));
            return sum;
        }
        double max = double.NegativeInfinity;
        foreach (var cut in Cuts) max = Math.Max(max, cut.Rank(value(cut.Score)));
        return max;
    }

    /// <summary>
    /// -ln of the tail share 1 - rank; the share is floored at half a quantile step, the resolution of the stored
    /// quantiles, so that a value beyond every validation value counts as very strong but finite evidence.
    /// </summary>
    internal static double FisherTerm(ReviewCut cut, double rank)
        => double.IsPositiveInfinity(rank) ? double.PositiveInfinity : -Math.Log(Math.Max(1 - rank, FisherFloor(cut)));

    internal static double FisherFloor(ReviewCut cut) => 0.5 / (cut.Quantiles.Length - 1);

    /// <summary><see cref="CombinedUncertainty(Func{UncertaintyScore, float})"/> of every row.</summary>
    public float[] CombinedUncertainty(ScoredRows rows)
    {
        var columns = Cuts.ToDictionary(c => c.Score, c => rows.Values(c.Score));
        return Enumerable.Range(0, rows.Count).Select(i => (float)CombinedUncertainty(s => columns[s][i])).ToArray();
    }

    /// <summary>
    /// The rule as a condition: "MutualInformation > 0.03 or PredictiveEntropy > 0.9" (AnyScore), or the sum of the
    /// scores' -ln tail shares and its threshold, with the value at which each score alone suffices (Fisher).
    /// </summary>
    public string Condition
    {
        get
        {
            string each = string.Join(" or ", Cuts.Select(c =>
                $"{c.Score} {(c.Score.HighMeansUncertain() ? ">" : "<")} {c.Threshold.ToString("G4", CultureInfo.InvariantCulture)}"));
            return Combination == ScoreCombination.Fisher && Cuts.Count > 1
                ? $"-ln tail share summed over {string.Join(", ", Scores)} > {CombinedThreshold.ToString("G4", CultureInfo.InvariantCulture)} (alone enough: {each})"
                : each;
        }
    }

    /// <inheritdoc />
    public override string ToString()
        => $"{Condition} goes to review " +
           $"(on the tuning data: {Coverage.ToString("P0", CultureInfo.InvariantCulture)} decided automatically at {Accuracy.ToString("P1", CultureInfo.InvariantCulture)} accuracy)";

    /// <inheritdoc />
    public override bool Equals(object? obj)
        => obj is ReviewRule other && Combination == other.Combination && Coverage.Equals(other.Coverage) && Accuracy.Equals(other.Accuracy) && CombinedThreshold.Equals(other.CombinedThreshold)
           && Cuts.Count == other.Cuts.Count && Cuts.Zip(other.Cuts).All(p => p.First.Score == p.Second.Score
               && p.First.Threshold.Equals(p.Second.Threshold) && p.First.Quantiles.AsSpan().SequenceEqual(p.Second.Quantiles));

    /// <inheritdoc />
    public override int GetHashCode() => HashCode.Combine(Cuts.Count, Cuts[0].Score, Cuts[0].Threshold, Coverage, Accuracy);
}

/// <summary>
/// The review rule in a saved model's manifest: { Cuts, CombinedThreshold, Combination, Coverage, Accuracy }. Manifests of
/// earlier versions hold no Combination (they read as AnyScore) or { Score, Threshold, Coverage, Accuracy } (a one-score rule).
/// </summary>
sealed class ReviewRuleJsonConverter : JsonConverter<ReviewRule>
{
    [JsonNumberHandling(JsonNumberHandling.AllowNamedFloatingPointLiterals)]
    sealed record Stored(
        [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] ReviewCut[]? Cuts,
        [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] double? CombinedThreshold,
        [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] ScoreCombination? Combination,
        [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] UncertaintyScore? Score,
        [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] double? Threshold,
        double Coverage, double Accuracy);

    public override ReviewRule Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
    {
        var stored = JsonSerializer.Deserialize<Stored>(ref reader, options) ?? throw new JsonException("The review rule is empty.");
        if (stored.Cuts is { Length: > 0 } cuts)
            return new ReviewRule(cuts, stored.CombinedThreshold ?? double.NaN, stored.Coverage, stored.Accuracy, stored.Combination ?? ScoreCombination.AnyScore);
        if (stored.Score is { } score && stored.Threshold is { } threshold) return new ReviewRule(score, threshold, stored.Coverage, stored.Accuracy);
        throw new JsonException("The review rule has neither Cuts nor Score and Threshold.");
    }

    public override void Write(Utf8JsonWriter writer, ReviewRule value, JsonSerializerOptions options)
        => JsonSerializer.Serialize(writer, new Stored(value.Cuts.ToArray(), value.CombinedThreshold, value.Combination, null, null, value.Coverage, value.Accuracy), options);
}
