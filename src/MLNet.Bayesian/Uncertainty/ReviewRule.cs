using System.Globalization;

namespace MLNet.Bayesian.Uncertainty;

/// <summary>
/// Send a row to a person when its <see cref="Score"/> is on the unsure side of <see cref="Threshold"/> (above it for
/// the entropies, below it for confidence), or is not a finite number. On the tuning data the rule kept
/// <see cref="Coverage"/> of the rows for automatic decisions, at <see cref="Accuracy"/>.
/// </summary>
public sealed record ReviewRule(UncertaintyScore Score, double Threshold, double Coverage, double Accuracy)
{
    /// <summary>Whether a row whose <see cref="Score"/> has this value goes to a person. NaN or infinity always does.</summary>
    public bool NeedsReview(float value)
        => !float.IsFinite(value) || Score.Uncertainty(value) > Score.Uncertainty(Threshold);

    /// <inheritdoc />
    public override string ToString()
        => $"{Score} {(Score.HighMeansUncertain() ? ">" : "<")} {Threshold.ToString("G4", CultureInfo.InvariantCulture)} goes to review " +
           $"(on the tuning data: {Coverage.ToString("P0", CultureInfo.InvariantCulture)} decided automatically at {Accuracy.ToString("P1", CultureInfo.InvariantCulture)} accuracy)";
}
