using MLNet.Bayesian.Architectures;
using MLNet.Bayesian.Data;
using MLNet.Bayesian.Training;
using MLNet.Bayesian.Uncertainty;

namespace MLNet.Bayesian.Tests.Training;

[TestClass]
public sealed class TrainingTests
{
    static BayesianImageClassifier Fit(TrainerOptions options, ImageSet? train = null, List<string>? log = null)
        => new BayesianTrainer(options, line => log?.Add(line)).Fit((c, h, w, k) => new SmallCnn(c, h, w, k), train ?? TestData.Train);

    /// <summary>All three stages, one epoch each, sized for 300 images.</summary>
    static TrainerOptions OneEpochPerStage(int seed)
    {
        var options = new TrainerOptions { DeterministicEpochs = 1, MeanFieldEpochs = 1, SharedEpochs = 1, BatchSize = 32, PredictionSamples = 3, Seed = seed };
        options.SharedPosterior.ComponentBudget = 16;
        options.SharedPosterior.MinMembers = 5;
        return options;
    }

    [TestMethod]
    public void SmallCnnReachesSeventyPercentAfterOneEpoch()
    {
        using var model = Fit(new TrainerOptions { DeterministicEpochs = 1, MeanFieldEpochs = 0, BatchSize = 32, LearningRate = 3e-3 });
        var metrics = model.Evaluate(TestData.Test, samples: 1);
        Console.WriteLine(metrics);
        Assert.IsTrue(metrics.Accuracy >= 0.70, metrics.ToString());
    }

    [TestMethod]
    public void StagesZeroOneTwoKeepAccuracyShrinkParametersAndFlagOutOfDistribution()
    {
        var log = new List<string>();
        var options = new TrainerOptions
        {
            DeterministicEpochs = 3, MeanFieldEpochs = 1, SharedEpochs = 1, BatchSize = 32, LearningRate = 3e-3, PredictionSamples = 10,
        };
        options.SharedPosterior.MinMembers = 10;
        using var model = new BayesianTrainer(options, log.Add).Fit((c, h, w, k) => new SmallCnn(c, h, w, k), TestData.Train, TestData.Test);
        log.ForEach(Console.WriteLine);
        var report = model.Report;
        Assert.AreEqual(3, report.Stages.Count);
        double stage0 = report.Stages[0].Validation!.Accuracy, final = report.Stages[2].Validation!.Accuracy;
        Assert.IsTrue(final >= stage0 - 0.03, $"stage 0 {stage0:P1}, 2DGBNN {final:P1}");
        Assert.IsTrue(report.SharedParameters < report.DeterministicParameters, report.ToString());
        Assert.IsTrue(report.MeanFieldParameters > report.DeterministicParameters);
        Assert.IsTrue(log.Any(l => l.StartsWith("stage 2:")), "stage 2 statistics are logged");

        var inDistribution = model.Predict(TestData.Test.Pixels, 10, keepSamples: true);
        var digits = DigitsCsvReader.ReadResized(TestData.DigitsCsv, 28);
        var ood = model.Predict(digits, 10);
        double hIn = inDistribution.PredictiveEntropy.Average(), hOut = ood.PredictiveEntropy.Average();
        Console.WriteLine($"predictive entropy: Fashion-MNIST {hIn:F3}, digits {hOut:F3}");
        Assert.IsTrue(hOut > hIn, $"entropy on digits {hOut:F3} should exceed Fashion-MNIST's {hIn:F3}");
        // Mutual information from the S draws' probabilities, in double, independently of the library's tensor arithmetic:
        // H(mean_s p_s) - mean_s H(p_s). It is >= 0 by Jensen, so the library's value (clamped at 0) must match it, not
        // merely be >= 0 (which the clamp makes true of any value).
        var draws = inDistribution.SampleProbabilities!;
        int classes = inDistribution.Classes, samples = inDistribution.Samples, n = inDistribution.Count;
        double Entropy(IEnumerable<double> p) => -p.Where(v => v > 0).Sum(v => v * Math.Log(v));
        int positive = 0;
        for (int i = 0; i < n; i++)
        {
            double[] Draw(int s) => Enumerable.Range(0, classes).Select(c => (double)draws[((long)s * n + i) * classes + c]).ToArray();
            var perDraw = Enumerable.Range(0, samples).Select(Draw).ToArray();
            var mean = Enumerable.Range(0, classes).Select(c => perDraw.Average(d => d[c]));
            double expected = perDraw.Average(Entropy);
            double mutual = Entropy(mean) - expected;
            Assert.IsTrue(mutual >= -1e-12, $"row {i}: Jensen's inequality fails ({mutual})");
            Assert.AreEqual(mutual, inDistribution.MutualInformation[i], 1e-4, $"row {i}: mutual information");
            Assert.AreEqual(expected, inDistribution.ExpectedEntropy[i], 1e-4, $"row {i}: expected entropy");
            if (mutual > 1e-3) positive++;
        }
        Assert.IsTrue(positive > n / 10, $"the draws disagree on more than a tenth of the rows ({positive} of {n}): the posterior is not a point mass");
    }

    [TestMethod]
    public void SameSeedSameResult()
    {
        var small = TestData.Train.StratifiedHead(30);
        var options = OneEpochPerStage(seed: 7);
        var probe = TestData.Test.StratifiedHead(5);
        float[] Run()
        {
            using var model = Fit(options, small);
            return model.Predict(probe, 3).Probabilities;
        }
        var a = Run();
        var b = Run();
        CollectionAssert.AreEqual(a, b);
    }

    [TestMethod]
    public void StageCompletedSeesEachStageOnceAndEvaluatingThereLeavesTrainingUnchanged()
    {
        var small = TestData.Train.StratifiedHead(30);
        var options = OneEpochPerStage(seed: 5);
        var probe = TestData.Test.StratifiedHead(5);
        var seen = new List<(BayesianStage Reported, BayesianStage Network, int Stages)>();
        var stageAccuracy = new List<double>();
        float[] Run(bool hook)
        {
            var trainer = new BayesianTrainer(options);
            if (hook)
                trainer.StageCompleted = (classifier, stage) =>
                {
                    seen.Add((stage, classifier.Network.Stage, classifier.Report.Stages.Count));
                    // What the benchmark does with the baselines: score them mid-run.
                    stageAccuracy.Add(classifier.Evaluate(probe, 3).Accuracy);
                };
            using var model = trainer.Fit((c, h, w, k) => new SmallCnn(c, h, w, k), small);
            return model.Predict(probe.Pixels, 3, seed: 2).Probabilities;
        }
        var plain = Run(hook: false);
        var hooked = Run(hook: true);
        CollectionAssert.AreEqual(new[] { BayesianStage.Deterministic, BayesianStage.MeanField, BayesianStage.Shared }, seen.Select(s => s.Reported).ToArray());
        CollectionAssert.AreEqual(seen.Select(s => s.Reported).ToArray(), seen.Select(s => s.Network).ToArray(), "the classifier is in the stage reported");
        CollectionAssert.AreEqual(new[] { 1, 2, 3 }, seen.Select(s => s.Stages).ToArray(), "the stage's report is written before the hook runs");
        Assert.IsTrue(stageAccuracy.All(a => a > 0.1), string.Join(", ", stageAccuracy));
        CollectionAssert.AreEqual(plain, hooked, "scoring inside the hook must not change the trained network");
    }

    [TestMethod]
    public void ProgressComesAfterEveryBatchFromTheFirstAndTheLastEpochsValidationIsTheModels()
    {
        var options = OneEpochPerStage(seed: 4);
        options.DeterministicEpochs = 2;
        // The posterior as trained: a scale fitted after the last epoch would change the model its validation line scored
        // (PosteriorScaleTests checks that the kept rows then follow the scale).
        options.PosteriorScale = 1;
        // And the Bayesian model as trained: on 200 images one stage-3 epoch can end below stage 0 (it did at 16 threads),
        // and the guard would then keep stage 0's network, whose figures are stage 0's line, not stage 3's.
        options.WhenWorseThanStage0 = WorseThanStage0.Warn;
        var train = TestData.Train.StratifiedHead(20);
        var validation = TestData.Test.StratifiedHead(10);
        var reports = new List<TrainingProgress>();
        var log = new List<string>();
        using var model = new BayesianTrainer(options, log.Add) { Progress = reports.Add }.Fit((c, h, w, k) => new SmallCnn(c, h, w, k), train, validation);

        int batches = (train.Count + options.BatchSize - 1) / options.BatchSize;
        Assert.AreEqual(batches * 4, reports.Count, "one report per batch of every epoch of every stage");
        Assert.AreEqual(1, reports[0].BatchesDone, "the first report comes after the first batch");
        CollectionAssert.AreEqual(Enumerable.Range(1, reports.Count).Select(i => (long)i).ToList(), reports.Select(r => r.BatchesDone).ToList());
        Assert.IsTrue(reports.All(r => r.BatchesPlanned == batches * 4), "the whole run is planned from the start");
        Assert.AreEqual(1.0, reports[^1].Fraction);
        Assert.AreEqual(TimeSpan.Zero, reports[^1].Remaining);
        Assert.IsTrue(reports.Zip(reports.Skip(1)).All(p => p.Second.Elapsed >= p.First.Elapsed));
        CollectionAssert.AreEqual(new[] { 0, 1, 3 }, reports.Select(r => r.StageNumber).Distinct().ToArray());
        StringAssert.Contains(reports[batches].ToString(), $"stage 0 (Deterministic) epoch 2/2 batch 1/{batches}");

        // The last epoch's validation figures are the trained model's (seeded draws), not a second, different figure.
        var last = log.Last(l => l.StartsWith("stage 3") && l.Contains("validation"));
        var scored = model.Predict(validation.Pixels, options.PredictionSamples, seed: 4);
        var metrics = ClassificationMetrics.Compute(scored.Probabilities, validation.Labels, model.ClassNames.Count);
        StringAssert.Contains(last, $"validation {metrics}");
        var rows = model.Report.FinalValidation;
        Assert.IsNotNull(rows, "the last validation pass is kept for metrics and review rules");
        CollectionAssert.AreEqual(scored.Probabilities, rows.Probabilities, "the kept rows are the trained model's scores");
        CollectionAssert.AreEqual(validation.Labels, rows.Labels);

        // When the network changes after the last validation pass (stage 3 runs no epoch), nothing stale is kept.
        options.SharedEpochs = 0;
        using var unvalidated = new BayesianTrainer(options).Fit((c, h, w, k) => new SmallCnn(c, h, w, k), train, validation);
        Assert.IsNull(unvalidated.Report.FinalValidation);
        Assert.IsTrue(log.Any(l => l.StartsWith("stage 2: building the shared posterior")), "a line before the long posterior construction");
    }

    [TestMethod]
    public void SingleClassIsRejectedWithAClearMessage()
    {
        var oneClass = TestData.Train.Select(Enumerable.Range(0, TestData.Train.Count).Where(i => TestData.Train.Labels[i] == 3).Take(20).ToList());
        var e = Assert.ThrowsExactly<ArgumentException>(() => Fit(new TrainerOptions(), oneClass));
        StringAssert.Contains(e.Message, "single class");
        StringAssert.Contains(e.Message, "Dress");
    }

    /// <summary>A scale learning rate far too high makes stage 3's scales overflow; the error names that rate, not only the means'.</summary>
    [TestMethod]
    public void DivergenceNamesTheScaleLearningRateToo()
    {
        var options = OneEpochPerStage(seed: 1);
        options.Variant = MLNet.Bayesian.Posterior.SamplingVariant.Hierarchical;
        options.SharedScaleLearningRate = 1e4;
        var e = Assert.ThrowsExactly<InvalidOperationException>(() => Fit(options, TestData.Train.StratifiedHead(10)));
        StringAssert.Contains(e.Message, "Training diverged: stage 3 (Shared)");
        StringAssert.Contains(e.Message, $"SharedLearningRate = {options.SharedLearningRate}");
        StringAssert.Contains(e.Message, "SharedScaleLearningRate = 10000");
    }

    [TestMethod]
    public void KeptSampleProbabilitiesAverageToTheScoreAcrossBatches()
    {
        var options = new TrainerOptions { DeterministicEpochs = 1, MeanFieldEpochs = 1, SharedEpochs = 0, StopAfterMeanField = true, BatchSize = 32 };
        using var model = Fit(options, TestData.Train.StratifiedHead(20));
        var probe = TestData.Test.StratifiedHead(3);   // 30 images in batches of 16: two batches
        var p = model.Predict(probe.Pixels, samples: 5, batchSize: 16, seed: 4, keepSamples: true);
        Assert.IsNotNull(p.SampleProbabilities);
        Assert.AreEqual(5 * 30 * 10, p.SampleProbabilities!.Length);
        for (int i = 0; i < 30; i++)
            for (int c = 0; c < 10; c++)
            {
                double mean = Enumerable.Range(0, 5).Average(s => p.SampleProbabilities[(s * 30 + i) * 10 + c]);
                Assert.AreEqual(p.Probabilities[i * 10 + c], mean, 1e-5, $"row {i} class {c}");
            }
        var samples = Enumerable.Range(0, 5).Select(s => p.SampleProbabilities.AsSpan(s * 300, 300).ToArray()).ToList();
        Assert.IsFalse(samples[0].SequenceEqual(samples[1]), "draws differ");
        var again = model.Predict(probe.Pixels, samples: 5, batchSize: 7, seed: 4);
        for (int j = 0; j < again.Probabilities.Length; j++) Assert.AreEqual(p.Probabilities[j], again.Probabilities[j], 1e-5f, "batching does not change seeded scores");
    }
}
