using MLNet.Bayesian.Conformal;

namespace MLNet.Bayesian.Tests.Conformal;

[TestClass]
public sealed class ConformalCalibrationTests
{
    const int K = 10;

    /// <summary>
    /// Rows of a perfectly calibrated model: probabilities softmax(scale * z) with z standard normal, and a label drawn
    /// from them, so that the labels really follow the probabilities (like draws from a Dirichlet, peaked when scale is large).
    /// </summary>
    static (float[] Probabilities, int[] Labels) Rows(int n, double scale, int seed)
    {
        var rng = new Random(seed);
        var p = new float[n * K];
        var labels = new int[n];
        var logits = new double[K];
        for (int i = 0; i < n; i++)
        {
            for (int c = 0; c < K; c++)
                logits[c] = scale * Math.Sqrt(-2 * Math.Log(1 - rng.NextDouble())) * Math.Cos(2 * Math.PI * rng.NextDouble());
            double max = logits.Max(), sum = logits.Sum(l => Math.Exp(l - max));
            for (int c = 0; c < K; c++) p[i * K + c] = (float)(Math.Exp(logits[c] - max) / sum);
            double u = rng.NextDouble(), cumulative = 0;
            labels[i] = K - 1;
            for (int c = 0; c < K; c++)
            {
                cumulative += p[i * K + c];
                if (u < cumulative) { labels[i] = c; break; }
            }
        }
        return (p, labels);
    }

    // 5,000 calibration and 20,000 test rows. The coverage of split conformal, over calibration sets, is Beta-distributed
    // with standard deviation about sqrt(a(1 - a) / (n + 2)) = 0.0042 for a = 0.1; the test rows add a binomial
    // sqrt(0.09 / 20000) = 0.0021. Four standard deviations of the sum: 0.019.
    const int Calibration = 5_000, Test = 20_000;
    const double Tolerance = 4 * 0.0047;

    [TestMethod]
    [DataRow(ConformalMethod.Aps)]
    [DataRow(ConformalMethod.Raps)]
    public void RandomisedSetsReachTheNominalCoverageAndDeterministicOnesAtLeastIt(ConformalMethod method)
    {
        var (calP, calY) = Rows(Calibration, scale: 3, seed: 1);
        var (testP, testY) = Rows(Test, scale: 3, seed: 2);
        var randomised = ConformalCalibration.Fit(calP, K, calY, new ConformalCalibration.Options { Method = method, Randomized = true, Seed = 7 })
            .Evaluate(testP, testY);
        var deterministic = ConformalCalibration.Fit(calP, K, calY, new ConformalCalibration.Options { Method = method })
            .Evaluate(testP, testY);
        Console.WriteLine($"{method}: randomised {randomised}, deterministic {deterministic}");
        Assert.AreEqual(0.9, randomised.Coverage, Tolerance, $"randomised {method}");
        Assert.IsTrue(deterministic.Coverage >= 0.9 - Tolerance, $"deterministic {method}: {deterministic.Coverage}");
        Assert.IsTrue(deterministic.Coverage > randomised.Coverage, "the deterministic sets include the class that crosses the threshold");
        Assert.AreEqual(0, deterministic.EmptyShare, "a deterministic set is never empty");
        Assert.IsTrue(randomised.MeanSetSize > 1 && randomised.MeanSetSize < K, $"mean size {randomised.MeanSetSize}");
    }

    [TestMethod]
    public void RapsWithAStrongPenaltyKeepsTheCoverageAndWithoutOneIsAps()
    {
        // Flat rows (scale 1) have long tails of unlikely classes, where the penalty bites.
        var (calP, calY) = Rows(Calibration, scale: 1, seed: 3);
        var (testP, testY) = Rows(Test, scale: 1, seed: 4);
        var apsFit = ConformalCalibration.Fit(calP, K, calY, new ConformalCalibration.Options { Method = ConformalMethod.Aps, Randomized = true });
        var aps = apsFit.Evaluate(testP, testY);
        var raps = ConformalCalibration.Fit(calP, K, calY, new ConformalCalibration.Options { Method = ConformalMethod.Raps, Lambda = 0.2, KReg = 1, Randomized = true })
            .Evaluate(testP, testY);
        Console.WriteLine($"flat rows: APS {aps}, RAPS {raps}");
        Assert.AreEqual(0.9, raps.Coverage, Tolerance);
        Assert.AreNotEqual(aps.MeanSetSize, raps.MeanSetSize, "the penalty changes the sets");
        var noPenalty = ConformalCalibration.Fit(calP, K, calY, new ConformalCalibration.Options { Method = ConformalMethod.Raps, Lambda = 0, Randomized = true });
        Assert.AreEqual(apsFit.Threshold, noPenalty.Threshold, "RAPS with Lambda 0 is APS");
        Assert.AreEqual(aps, noPenalty.Evaluate(testP, testY));
    }

    [TestMethod]
    public void QuantileIndexIsCeilingOfNPlusOneTimesCoverage()
    {
        Assert.AreEqual(9, ConformalScore.QuantileIndex(9, 0.9), "(9 + 1) * 0.9 = 9 exactly, not 10 by rounding error");
        Assert.AreEqual(10, ConformalScore.QuantileIndex(10, 0.9), "ceil(9.9)");
        Assert.AreEqual(91, ConformalScore.QuantileIndex(100, 0.9), "ceil(90.9)");
        Assert.AreEqual(900, ConformalScore.QuantileIndex(999, 0.9));
        Assert.AreEqual(9, ConformalCalibration.MinimumRows(0.9));
        Assert.AreEqual(19, ConformalCalibration.MinimumRows(0.95));

        // Ten rows whose label is the top class with probability 0.5, 0.55, ..., 0.95: deterministic scores equal to it.
        // Coverage 0.8: the ceil(11 * 0.8) = 9th smallest, 0.9.
        var p = new List<float>();
        var labels = new List<int>();
        for (int i = 9; i >= 0; i--)
        {
            float top = 0.5f + 0.05f * i;
            p.AddRange(new[] { (1 - top) / 2, top, (1 - top) / 2 });
            labels.Add(1);
        }
        var fit = ConformalCalibration.Fit(p, 3, labels, new ConformalCalibration.Options { Method = ConformalMethod.Aps, Coverage = 0.8 });
        Assert.AreEqual(0.9, fit.Threshold, 1e-6);
        // LAC scores the same rows 1 - top = 0.5, 0.45, ..., 0.05: the 9th smallest is 0.45.
        Assert.AreEqual(0.45, ConformalCalibration.Fit(p, 3, labels, new ConformalCalibration.Options { Coverage = 0.8 }).Threshold, 1e-6);
        Assert.AreEqual(10, fit.CalibrationRows);
    }

    [TestMethod]
    public void HandRowScoresAndSets()
    {
        float[] p = { 0.15f, 0.5f, 0.05f, 0.3f };
        Assert.AreEqual(0.95, ConformalScore.Score(p, 0, ConformalMethod.Aps, 0, 1, u: 1), 1e-6, "0.5 + 0.3 + 0.15");
        Assert.AreEqual(0.875, ConformalScore.Score(p, 0, ConformalMethod.Aps, 0, 1, u: 0.5), 1e-6, "0.8 + 0.5 * 0.15");
        Assert.AreEqual(1.15, ConformalScore.Score(p, 0, ConformalMethod.Raps, lambda: 0.1, kReg: 1, u: 1), 1e-6, "0.95 + 0.1 * (3 - 1)");

        var set = new bool[4];
        // Scores by rank: 0.5, 0.8, 0.95, 1.0. Deterministic at 0.85: classes 1 and 3, then class 0 crosses and is included.
        Assert.AreEqual(3, ConformalScore.Set(p, 0.85, ConformalMethod.Aps, 0, 1, u: 1, randomized: false, set));
        CollectionAssert.AreEqual(new[] { true, true, false, true }, set);
        // Randomised with u = 1: only the classes scoring at most 0.85.
        Assert.AreEqual(2, ConformalScore.Set(p, 0.85, ConformalMethod.Aps, 0, 1, u: 1, randomized: true, set));
        CollectionAssert.AreEqual(new[] { false, true, false, true }, set);
        // Randomised, u * 0.5 above the threshold: the empty set (a row to review).
        Assert.AreEqual(0, ConformalScore.Set(p, 0.3, ConformalMethod.Aps, 0, 1, u: 0.9, randomized: true, set));
        Assert.IsFalse(set.Any(x => x));
        // A threshold above every score: every class (oversized, also a row to review).
        Assert.AreEqual(4, ConformalScore.Set(p, 2, ConformalMethod.Aps, 0, 1, u: 1, randomized: false, set));
        // Deterministic never empty, even with a threshold below the top probability.
        Assert.AreEqual(1, ConformalScore.Set(p, 0.1, ConformalMethod.Aps, 0, 1, u: 1, randomized: false, set));
        Assert.IsTrue(set[1]);
    }

    [TestMethod]
    public void RandomisedSetsDependOnlyOnTheRowAndTheSeed()
    {
        var (calP, calY) = Rows(500, scale: 2, seed: 5);
        var fit = ConformalCalibration.Fit(calP, K, calY, new ConformalCalibration.Options { Method = ConformalMethod.Aps, Randomized = true, Seed = 3 });
        var again = ConformalCalibration.Fit(calP, K, calY, new ConformalCalibration.Options { Method = ConformalMethod.Aps, Randomized = true, Seed = 3 });
        var otherSeed = ConformalCalibration.Fit(calP, K, calY, new ConformalCalibration.Options { Method = ConformalMethod.Aps, Randomized = true, Seed = 4 });
        Assert.AreEqual(fit.Threshold, again.Threshold);
        Assert.AreNotEqual(fit.Threshold, otherSeed.Threshold, "the seed changes the draws");

        var (testP, _) = Rows(200, scale: 2, seed: 6);
        var a = new bool[K];
        var b = new bool[K];
        int differ = 0;
        for (int i = 0; i < 200; i++)
        {
            fit.PredictionSet(testP.AsSpan(i * K, K), a);
            // The same row again after other rows (another "batch position") gives the same set.
            fit.PredictionSet(testP.AsSpan(((i + 7) % 200) * K, K), b);
            fit.PredictionSet(testP.AsSpan(i * K, K), b);
            CollectionAssert.AreEqual(a, b, $"row {i}");
            var restored = ConformalCalibration.FromParameters(fit.ToParameters());
            restored.PredictionSet(testP.AsSpan(i * K, K), b);
            CollectionAssert.AreEqual(a, b, $"row {i} with the calibration read back from its saved numbers");
            otherSeed.PredictionSet(testP.AsSpan(i * K, K), b);
            if (!a.SequenceEqual(b)) differ++;
        }
        Assert.IsTrue(differ > 0, "another seed gives other sets on some rows");
    }

    [TestMethod]
    [DataRow(3.0)]
    [DataRow(1.0)]
    public void LacSetsReachTheNominalCoverageWithoutADrawAndAreTheSmallest(double scale)
    {
        var (calP, calY) = Rows(Calibration, scale, seed: 11);
        var (testP, testY) = Rows(Test, scale, seed: 12);
        var lacFit = ConformalCalibration.Fit(calP, K, calY);
        Assert.AreEqual(ConformalMethod.Lac, lacFit.Method, "LAC is the default");
        var lac = lacFit.Evaluate(testP, testY);
        var aps = ConformalCalibration.Fit(calP, K, calY, new ConformalCalibration.Options { Method = ConformalMethod.Aps, Randomized = true }).Evaluate(testP, testY);
        Console.WriteLine($"scale {scale}: LAC {lac} (threshold {lacFit.Threshold:F4}), randomised APS {aps}");
        Assert.AreEqual(0.9, lac.Coverage, Tolerance);
        // Sadinle et al.: among sets with the coverage, LAC's are the smallest on average for calibrated probabilities.
        Assert.IsTrue(lac.MeanSetSize < aps.MeanSetSize, $"LAC {lac.MeanSetSize} against APS {aps.MeanSetSize}");
        // Every row's set is the classes with p >= 1 - threshold, whatever else is in the row.
        var inSet = new bool[K];
        for (int i = 0; i < 500; i++)
        {
            var row = testP.AsSpan(i * K, K);
            int size = lacFit.PredictionSet(row, inSet);
            for (int c = 0; c < K; c++)
                Assert.AreEqual(1.0 - row[c] <= lacFit.Threshold, inSet[c], $"row {i}, class {c}");
            Assert.AreEqual(inSet.Count(x => x), size);
        }
    }

    [TestMethod]
    public void LacHandRowAndItRefusesADraw()
    {
        float[] p = { 0.15f, 0.5f, 0.05f, 0.3f };
        Assert.AreEqual(0.85, ConformalScore.Score(p, 0, ConformalMethod.Lac, 0, 1, u: 1), 1e-6, "1 - 0.15");
        var set = new bool[4];
        // Threshold 0.75: classes with p >= 0.25, that is 1 and 3; the next (0.15) is left out, unlike deterministic APS.
        Assert.AreEqual(2, ConformalScore.Set(p, 0.75, ConformalMethod.Lac, 0, 1, u: 1, randomized: false, set));
        CollectionAssert.AreEqual(new[] { false, true, false, true }, set);
        // Threshold 0.4: no class has p >= 0.6, the empty set (a row to review).
        Assert.AreEqual(0, ConformalScore.Set(p, 0.4, ConformalMethod.Lac, 0, 1, u: 1, randomized: false, set));
        var (calP, calY) = Rows(100, scale: 2, seed: 13);
        var e = Assert.ThrowsExactly<ArgumentException>(() => ConformalCalibration.Fit(calP, K, calY, new ConformalCalibration.Options { Randomized = true }));
        StringAssert.Contains(e.Message, "Randomized");
        StringAssert.Contains(e.Message, "LAC");
        // Read back from the saved numbers, a LAC calibration is LAC.
        var fit = ConformalCalibration.Fit(calP, K, calY);
        Assert.AreEqual(ConformalMethod.Lac, ConformalCalibration.FromParameters(fit.ToParameters()).Method);
    }

    [TestMethod]
    public void BadOptionsAndTooFewRowsNameTheProblem()
    {
        var (p, y) = Rows(100, scale: 2, seed: 8);
        foreach (double coverage in new[] { 0.0, 1.0, -0.1, 1.5, double.NaN })
        {
            var e = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => ConformalCalibration.Fit(p, K, y, new ConformalCalibration.Options { Coverage = coverage }));
            StringAssert.Contains(e.Message, "Coverage");
        }
        StringAssert.Contains(Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => ConformalCalibration.Fit(p, K, y, new ConformalCalibration.Options { KReg = 0 })).Message, "KReg");
        StringAssert.Contains(Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => ConformalCalibration.Fit(p, K, y, new ConformalCalibration.Options { Lambda = -1 })).Message, "Lambda");
        var few = Assert.ThrowsExactly<ArgumentException>(() => ConformalCalibration.Fit(p.AsSpan(0, 18 * K).ToArray(), K, y.Take(18).ToArray(), new ConformalCalibration.Options { Coverage = 0.95 }));
        StringAssert.Contains(few.Message, "at least 19 rows");
        var badLabel = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => ConformalCalibration.Fit(p, K, y.Select(_ => K).ToArray()));
        StringAssert.Contains(badLabel.Message, "Calibration row 0");
    }
}
