using System.Runtime;
using MLNet.Bayesian.Architectures;
using MLNet.Bayesian.Data;
using MLNet.Bayesian.Torch;
using MLNet.Bayesian.Training;
using static TorchSharp.torch;

namespace MLNet.Bayesian.Tests.Training;

/// <summary>
/// Two trainers in one process (a parameter sweep, a service that retrains while it scores) share nothing that changes
/// their results or breaks their runs: each seeds its own initial weights and draws its own training noise, and the
/// garbage-collection pause both hold is ended by the last of them, not the first.
/// </summary>
[TestClass]
public sealed class ConcurrentTrainersTests
{
    static TrainerOptions Options(BayesianMethod method, int seed)
    {
        var options = new TrainerOptions
        {
            Method = method, DeterministicEpochs = 1, MeanFieldEpochs = 1, SharedEpochs = 1, BatchSize = 32, PredictionSamples = 3, Seed = seed,
        };
        options.SharedPosterior.ComponentBudget = 16;
        options.SharedPosterior.MinMembers = 5;
        return options;
    }

    static float[] TrainAndScore(BayesianMethod method, int seed, ImageSet train, ImageSet probe)
    {
        using var model = new BayesianTrainer(Options(method, seed)).Fit(ArchitectureFactory.Create(Architecture.SmallCnn), train);
        return model.Predict(probe.Pixels, 3, seed: 1).Probabilities;
    }

    [TestMethod]
    [DataRow(BayesianMethod.TwoDGbnn)]
    [DataRow(BayesianMethod.McDropout)]
    public void TwoTrainersAtOnceGiveWhatEachGivesAlone(BayesianMethod method)
    {
        var train = TestData.Train.StratifiedHead(20);
        var probe = TestData.Test.StratifiedHead(3);
        var alone = new[] { TrainAndScore(method, 11, train, probe), TrainAndScore(method, 12, train, probe) };
        Assert.IsFalse(alone[0].SequenceEqual(alone[1]), "the two seeds give different models (else the check below proves nothing)");

        using var start = new Barrier(2);
        var together = new[] { 11, 12 }.Select(seed => Task.Factory.StartNew(() =>
        {
            start.SignalAndWait();
            return TrainAndScore(method, seed, train, probe);
        }, TaskCreationOptions.LongRunning)).ToArray();
        Task.WaitAll(together);

        for (int i = 0; i < 2; i++) CollectionAssert.AreEqual(alone[i], together[i].Result, $"{method}, seed {11 + i}: trained beside another trainer");
        Assert.AreEqual(0, GcPause.Holders, "every pause ended");
        Assert.AreNotEqual(GCLatencyMode.NoGCRegion, GCSettings.LatencyMode, "the no-GC region ended with the last pause");
    }

    [TestMethod]
    public void TrainingDrawsNothingFromTheGlobalGenerator()
    {
        var train = TestData.Train.StratifiedHead(20);
        var probe = TestData.Test.StratifiedHead(3);
        var quiet = TrainAndScore(BayesianMethod.TwoDGbnn, 7, train, probe);

        // From the end of stage 0 on (the initial weights are drawn by then; see SeededConstruction), another part of the
        // application draws from LibTorch's global generator all through the variational stages.
        using var stop = new CancellationTokenSource();
        Task<long>? noisy = null;
        var trainer = new BayesianTrainer(Options(BayesianMethod.TwoDGbnn, 7))
        {
            StageCompleted = (_, stage) =>
            {
                if (stage != BayesianStage.Deterministic) return;
                noisy = Task.Factory.StartNew(() =>
                {
                    long draws = 0;
                    while (!stop.IsCancellationRequested) { using var x = randn(64); draws++; }
                    return draws;
                }, TaskCreationOptions.LongRunning);
            },
        };
        float[] beside;
        using (var model = trainer.Fit(ArchitectureFactory.Create(Architecture.SmallCnn), train))
            beside = model.Predict(probe.Pixels, 3, seed: 1).Probabilities;
        stop.Cancel();
        Assert.IsNotNull(noisy, "stage 0 completed");
        Assert.IsTrue(noisy.Result > 0, "the other thread drew");
        CollectionAssert.AreEqual(quiet, beside, "the same model while another thread drew from the global generator");
    }

    [TestMethod]
    public void TheGcPauseEndsWithTheLastHolderOnAnyThread()
    {
        Assert.AreEqual(0, GcPause.Holders);
        var first = GcPause.Begin();
        var second = Task.Run(() => GcPause.Begin()).Result;
        Assert.AreEqual(2, GcPause.Holders);
        first.Dispose();
        Assert.AreEqual(1, GcPause.Holders);
        Assert.AreEqual(GCLatencyMode.NoGCRegion, GCSettings.LatencyMode, "the other thread's pause is still in force");
        Task.Run(second.Dispose).Wait();
        Assert.AreEqual(0, GcPause.Holders);
        Assert.AreNotEqual(GCLatencyMode.NoGCRegion, GCSettings.LatencyMode);
    }
}
