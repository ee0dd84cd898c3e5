using System.Text.Json;
using System.Text.Json.Serialization;
using MLNet.Bayesian.Uncertainty;

namespace MLNet.Bayesian.Tests.Uncertainty;

/// <summary>Review rules over several scores: fitted on validation rows, they keep the coverage and catch what any one score sees.</summary>
[TestClass]
public sealed class ReviewRuleTests
{
    const UncertaintyScore Entropy = UncertaintyScore.PredictiveEntropy, Mi = UncertaintyScore.MutualInformation;

    /// <summary>
    /// Rows of two classes: entropy uniform on [0, 1) and mutual information on [0, 0.1), independent, unless
    /// <paramref name="entropy"/> or <paramref name="mi"/> fix one range; every fifth row is wrongly predicted.
    /// </summary>
    static ScoredRows Rows(int n, int seed, (float Low, float High)? entropy = null, (float Low, float High)? mi = null, bool labelled = true)
    {
        var random = new Random(seed);
        var (eLow, eHigh) = entropy ?? (0f, 1f);
        var (mLow, mHigh) = mi ?? (0f, 0.1f);
        var e = Enumerable.Range(0, n).Select(_ => eLow + (eHigh - eLow) * random.NextSingle()).ToArray();
        var m = Enumerable.Range(0, n).Select(_ => mLow + (mHigh - mLow) * random.NextSingle()).ToArray();
        var probabilities = Enumerable.Range(0, n).SelectMany(_ => new[] { 0.8f, 0.2f }).ToArray();
        var labels = Enumerable.Range(0, n).Select(i => labelled ? (i % 5 == 0 ? 1 : 0) : -1).ToArray();
        return new ScoredRows(2, probabilities, labels, new Dictionary<UncertaintyScore, float[]> { [Entropy] = e, [Mi] = m });
    }

    static double Share(ScoredRows rows, Func<int, bool> flagged) => Enumerable.Range(0, rows.Count).Count(flagged) / (double)rows.Count;

    [TestMethod]
    public void ARuleFittedOnValidationRowsKeepsTheCoverageOnNewRows()
    {
        var validation = Rows(4000, seed: 1);
        var rule = UncertaintyEvaluator.FitReviewRule(validation, new[] { Entropy, Mi }, coverage: 0.9, combination: ScoreCombination.AnyScore);
        CollectionAssert.AreEqual(new[] { Entropy, Mi }, rule.Scores.ToArray());
        Assert.AreEqual(0.9, 1 - Share(validation, i => rule.NeedsReview(validation, i)), 1.0 / 4000 + 1e-9, "exact on the validation rows");
        // 4,000 fresh rows of the same kind: the kept share has a standard error of sqrt(0.9 * 0.1 / 4000) = 0.005.
        var fresh = Rows(4000, seed: 2);
        double kept = 1 - Share(fresh, i => rule.NeedsReview(fresh, i));
        Assert.AreEqual(0.9, kept, 0.02, $"kept {kept:P1} of new rows");
        // Independent scores each cut at rank sqrt(0.9) = 0.949: entropy's threshold near 0.949, MI's near 0.0949.
        Assert.AreEqual(0.949, rule.Cuts[0].Threshold, 0.02, rule.ToString());
        Assert.AreEqual(0.0949, rule.Cuts[1].Threshold, 0.002, rule.ToString());
        Assert.AreEqual(0.949, rule.CombinedThreshold, 0.01);
        // The combined score ranks like the rule decides: rows above the combined cut are exactly the flagged ones (up to quantile resolution).
        var combined = rule.CombinedUncertainty(fresh);
        int disagree = Enumerable.Range(0, fresh.Count).Count(i => (combined[i] > rule.CombinedThreshold) != rule.NeedsReview(fresh, i));
        Assert.IsTrue(disagree <= 20, $"{disagree} of 4000 rows disagree between the combined score and the thresholds");
    }

    [TestMethod]
    public void TheCombinedRuleFlagsUnfamiliarRowsThatOnlyOneScoreSees()
    {
        var validation = Rows(3000, seed: 3);
        // One unfamiliar population raises only the epistemic score, the other only the total entropy.
        var highMi = Rows(500, seed: 4, entropy: (0.1f, 0.8f), mi: (0.15f, 0.3f), labelled: false);
        var highEntropy = Rows(500, seed: 5, entropy: (1.1f, 2f), mi: (0f, 0.08f), labelled: false);
        var byEntropy = UncertaintyEvaluator.FitReviewRule(validation, Entropy, coverage: 0.9);
        var byMi = UncertaintyEvaluator.FitReviewRule(validation, Mi, coverage: 0.9);
        var both = UncertaintyEvaluator.FitReviewRule(validation, new[] { Entropy, Mi }, coverage: 0.9, combination: ScoreCombination.AnyScore);
        Assert.IsTrue(Share(highMi, i => byEntropy.NeedsReview(highMi, i)) < 0.05, "entropy alone misses the high-MI rows");
        Assert.IsTrue(Share(highEntropy, i => byMi.NeedsReview(highEntropy, i)) < 0.05, "MI alone misses the high-entropy rows");
        Assert.AreEqual(1.0, Share(highEntropy, i => byEntropy.NeedsReview(highEntropy, i)));
        Assert.AreEqual(1.0, Share(highMi, i => byMi.NeedsReview(highMi, i)));
        Assert.AreEqual(1.0, Share(highMi, i => both.NeedsReview(highMi, i)), "the combined rule catches the high-MI rows");
        Assert.AreEqual(1.0, Share(highEntropy, i => both.NeedsReview(highEntropy, i)), "and the high-entropy rows");

        // Its combined score separates both populations from validation-like rows; each single score fails on one.
        var inside = Rows(2000, seed: 6);
        var outside = Concat(highMi, highEntropy);
        var report = UncertaintyEvaluator.Evaluate(inside, 0.9, outside, both);
        Assert.IsTrue(report.Rule!.OutOfDistribution!.Auroc > 0.97, $"rule AUROC {report.Rule.OutOfDistribution.Auroc}");
        Assert.IsTrue(report.OutOfDistribution![Entropy].Auroc < 0.8 && report.OutOfDistribution[Mi].Auroc < 0.8,
            $"single AUROCs {report.OutOfDistribution[Entropy].Auroc}, {report.OutOfDistribution[Mi].Auroc}");
        Assert.AreEqual(1.0, report.Rule.OutOfDistributionFlagged!.Value);
        Assert.AreEqual(0.9, report.Rule.Kept, 0.025);
    }

    static ScoredRows Concat(ScoredRows a, ScoredRows b)
        => new(a.Classes, a.Probabilities.Concat(b.Probabilities).ToArray(), a.Labels.Concat(b.Labels).ToArray(),
            a.Scores.Keys.ToDictionary(s => s, s => a.Values(s).Concat(b.Values(s)).ToArray()));

    [TestMethod]
    public void NaNOrInfinityInAnyScoreGoesToReview()
    {
        foreach (var combination in Enum.GetValues<ScoreCombination>())
            NaNOrInfinityGoesToReview(UncertaintyEvaluator.FitReviewRule(Rows(500, seed: 7), new[] { Entropy, Mi }, coverage: 0.9, combination: combination));
    }

    static void NaNOrInfinityGoesToReview(ReviewRule rule)
    {
        foreach (float bad in new[] { float.NaN, float.PositiveInfinity, float.NegativeInfinity })
        {
            Assert.IsTrue(rule.NeedsReview(s => s == Mi ? bad : 0.01f), $"MI {bad}");
            Assert.IsTrue(rule.NeedsReview(s => s == Entropy ? bad : 0.001f), $"entropy {bad}");
            Assert.AreEqual(double.PositiveInfinity, rule.CombinedUncertainty(s => s == Mi ? bad : 0.01f));
        }
        Assert.IsFalse(rule.NeedsReview(s => s == Mi ? 0.001f : 0.01f), "a certain row is decided automatically");
        // Asking a several-score rule with one score's value compiled and then threw in version 0.3; the call is gone.
        var oneValue = typeof(ReviewRule).GetMethods().Where(m => m.Name == nameof(ReviewRule.NeedsReview))
            .Where(m => m.GetParameters() is [{ ParameterType: var t }] && (t == typeof(float) || t == typeof(double))).ToList();
        Assert.AreEqual(0, oneValue.Count, "a rule is asked with the whole row, never with one score's value");
        Assert.IsNull(typeof(ReviewRule).GetProperty("Threshold"), "one threshold exists only per cut (Cuts[i].Threshold)");
    }

    [TestMethod]
    public void ADeterministicModelFallsBackToEntropyAlone()
    {
        var rows = Rows(200, seed: 8);
        var zeros = new ScoredRows(2, rows.Probabilities, rows.Labels,
            new Dictionary<UncertaintyScore, float[]> { [Entropy] = rows.Values(Entropy), [Mi] = new float[rows.Count] });
        var rule = UncertaintyEvaluator.FitReviewRule(zeros, new[] { Entropy, Mi }, coverage: 0.9);
        CollectionAssert.AreEqual(new[] { Entropy }, rule.Scores.ToArray());
        Assert.AreEqual(UncertaintyEvaluator.FitReviewRule(zeros, Entropy, coverage: 0.9).Cuts[0].Threshold, rule.Cuts[0].Threshold, "the same as a rule on entropy alone");
        var e = Assert.ThrowsExactly<ArgumentException>(() => UncertaintyEvaluator.FitReviewRule(zeros, new[] { Mi }, coverage: 0.9));
        StringAssert.Contains(e.Message, "deterministic model");
    }

    const string PreviousVersionRule = """
        {"Cuts":[{"Score":"PredictiveEntropy","Threshold":0.9,"Quantiles":[0,1]},{"Score":"MutualInformation","Threshold":0.03,"Quantiles":[0,0.05]}],
         "CombinedThreshold":0.95,"Coverage":0.9,"Accuracy":0.94}
        """;

    /// <summary>
    /// Fisher's combination: rows moderately uncertain by both scores (each below its AnyScore cut at rank 0.949) add up
    /// to review, while the coverage holds; one score past its "alone" threshold is enough by itself.
    /// </summary>
    [TestMethod]
    public void FisherAddsUpModerateEvidenceAndKeepsTheCoverage()
    {
        var validation = Rows(4000, seed: 11);
        var fisher = UncertaintyEvaluator.FitReviewRule(validation, new[] { Entropy, Mi }, coverage: 0.9);
        Assert.AreEqual(ScoreCombination.Fisher, fisher.Combination, "Fisher is the default");
        var any = UncertaintyEvaluator.FitReviewRule(validation, new[] { Entropy, Mi }, coverage: 0.9, combination: ScoreCombination.AnyScore);
        Assert.AreEqual(0.9, 1 - Share(validation, i => fisher.NeedsReview(validation, i)), 2.0 / 4000, "exact on the validation rows");
        var fresh = Rows(4000, seed: 12);
        Assert.AreEqual(0.9, 1 - Share(fresh, i => fisher.NeedsReview(fresh, i)), 0.02, "and about right on new rows");
        // Two independent uniform tail shares: -ln p1 - ln p2 is Gamma(2, 1), whose 90% quantile is 3.890.
        Assert.AreEqual(3.890, fisher.CombinedThreshold, 0.15, fisher.ToString());

        // Both scores at ranks 0.88..0.94: below every AnyScore cut, but -ln(0.12) x 2 = 4.24 > 3.89.
        var moderate = Rows(500, seed: 13, entropy: (0.88f, 0.94f), mi: (0.088f, 0.094f), labelled: false);
        Assert.AreEqual(0.0, Share(moderate, i => any.NeedsReview(moderate, i)), "AnyScore sees nothing");
        Assert.AreEqual(1.0, Share(moderate, i => fisher.NeedsReview(moderate, i)), "Fisher adds the two up");

        // Each cut is where that score alone suffices: with the other score at its least uncertain (rank 0).
        foreach (var cut in fisher.Cuts)
        {
            float above = (float)(cut.Threshold * 1.01), below = (float)(cut.Threshold * 0.99);
            Assert.IsTrue(fisher.NeedsReview(s => s == cut.Score ? above : 0f), $"{cut.Score} just above its cut {cut.Threshold}");
            Assert.IsFalse(fisher.NeedsReview(s => s == cut.Score ? below : 0f), $"{cut.Score} just below its cut {cut.Threshold}");
        }
        StringAssert.Contains(fisher.Condition, "-ln tail share summed over PredictiveEntropy, MutualInformation > ");
        // A value beyond every validation value is strong, finite evidence (the tail share is floored at half a quantile step).
        Assert.IsTrue(double.IsFinite(fisher.CombinedUncertainty(s => 100f)));
        Assert.ThrowsExactly<ArgumentException>(() => new ReviewRule(new[] { new ReviewCut(Entropy, 0.5, Array.Empty<float>()) }, 1, 0.9, 0.9, ScoreCombination.Fisher));
    }

    [TestMethod]
    public void ScoreListsParseAndBadNamesAreNamed()
    {
        CollectionAssert.AreEqual(new[] { Entropy, Mi }, UncertaintyScores.ParseList(" predictiveentropy, MutualInformation ,PredictiveEntropy").ToArray());
        var e = Assert.ThrowsExactly<ArgumentException>(() => UncertaintyScores.ParseList("PredictiveEntropy,Entropyy"));
        StringAssert.Contains(e.Message, "'Entropyy'");
        Assert.ThrowsExactly<ArgumentException>(() => UncertaintyScores.ParseList(" , "));
    }

    static readonly JsonSerializerOptions Json = new() { Converters = { new JsonStringEnumConverter() } };

    [TestMethod]
    public void RulesSurviveJsonAndTheSingleScoreShapeOfEarlierVersionsStillReads()
    {
        foreach (var combination in Enum.GetValues<ScoreCombination>())
        {
            var rule = UncertaintyEvaluator.FitReviewRule(Rows(300, seed: 9), new[] { Entropy, Mi }, coverage: 0.8, combination: combination);
            var back = JsonSerializer.Deserialize<ReviewRule>(JsonSerializer.Serialize(rule, Json), Json)!;
            Assert.AreEqual(rule, back);
            Assert.AreEqual(combination, back.Combination);
            var probe = Rows(100, seed: 10);
            CollectionAssert.AreEqual(rule.CombinedUncertainty(probe), back.CombinedUncertainty(probe), "the combined score is reproduced after reading");
        }
        // A multi-score rule of the previous version (no Combination) reads as AnyScore.
        var previous = JsonSerializer.Deserialize<ReviewRule>(PreviousVersionRule, Json)!;
        Assert.AreEqual(ScoreCombination.AnyScore, previous.Combination);
        Assert.IsTrue(previous.NeedsReview(s => s == Mi ? 0.04f : 0.1f));
        Assert.IsFalse(previous.NeedsReview(s => s == Mi ? 0.01f : 0.1f));

        var old = JsonSerializer.Deserialize<ReviewRule>("""{"Score":"MutualInformation","Threshold":0.029,"Coverage":0.9,"Accuracy":0.95}""", Json)!;
        Assert.AreEqual(new ReviewRule(Mi, 0.029, 0.9, 0.95), old);
        Assert.IsTrue(old.NeedsReview(_ => 0.03f));
        Assert.IsFalse(old.HasRanks);
        Assert.AreEqual("MutualInformation > 0.029 goes to review", old.ToString()[..old.ToString().IndexOf(" (", StringComparison.Ordinal)]);
        // A hand-made rule (coverage and accuracy unknown) is written and read too.
        var handMade = new ReviewRule(UncertaintyScore.Confidence, 0.7, double.NaN, double.NaN);
        Assert.AreEqual(handMade, JsonSerializer.Deserialize<ReviewRule>(JsonSerializer.Serialize(handMade, Json), Json));
    }
}
